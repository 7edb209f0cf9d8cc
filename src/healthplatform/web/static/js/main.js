// The app shell: hash routes, the navigation bar, focus management between screens.

import { isSignedIn, onSessionChange, signOut, username } from "./api.js";
import { announce, clearMessages, flash, h, replace, takeFlash } from "./dom.js";
import * as account from "./views/account.js";
import * as day from "./views/day.js";
import * as history from "./views/history.js";
import * as signin from "./views/signin.js";
import * as trends from "./views/trends.js";
import * as upload from "./views/upload.js";

// pattern -> view; `open` views are reachable signed out (and only signed out)
const ROUTES = [
  { pattern: /^\/signin$/, view: signin, open: true, nav: "signin", params: () => ({ mode: "signin" }) },
  { pattern: /^\/signup$/, view: signin, open: true, nav: "signup", params: () => ({ mode: "signup" }) },
  { pattern: /^\/upload$/, view: upload, nav: "upload" },
  { pattern: /^\/history$/, view: history, nav: "history" },
  { pattern: /^\/day$/, view: day, nav: "day", params: () => ({ date: null }) },
  { pattern: /^\/day\/([^/]+)$/, view: day, nav: "day", params: (m) => ({ date: decodeURIComponent(m[1]) }) },
  { pattern: /^\/trends$/, view: trends, nav: "trends", params: () => ({ period: "week", end: null }) },
  { pattern: /^\/trends\/(week|month)$/, view: trends, nav: "trends", params: (m) => ({ period: m[1], end: null }) },
  { pattern: /^\/trends\/(week|month)\/(\d{4}-\d{2}-\d{2})$/, view: trends, nav: "trends", params: (m) => ({ period: m[1], end: m[2] }) },
  { pattern: /^\/account$/, view: account, nav: "account" },
];
// an address that names no screen says so (instead of silently showing another screen)
const NOT_FOUND = {
  nav: null,
  view: {
    render(target) {
      replace(
        target,
        h("h1", {}, "Page not found"),
        h("p", { class: "empty not-found" }, `There is no page at “#${currentPath()}”. `, h("a", { href: "#/day" }, "Open your days"), " or ", h("a", { href: "#/upload" }, "upload files"), "."),
      );
    },
  },
};

const NAV = [
  { id: "upload", href: "#/upload", label: "Upload" },
  { id: "history", href: "#/history", label: "History" },
  { id: "day", href: "#/day", label: "Days" },
  { id: "trends", href: "#/trends", label: "Trends" },
  { id: "account", href: "#/account", label: "Account" },
];

const main = document.getElementById("main");
let active = null; // { controller, cleanup }
let returnTo = null; // where to go after signing in
let firstRender = true; // the first screen keeps the browser's focus (skip link first)

export function navigate(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

function currentPath() {
  return location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
}

function renderNav(route) {
  const nav = document.getElementById("nav");
  if (!isSignedIn()) {
    replace(
      nav,
      h(
        "ul",
        {},
        h("li", {}, h("a", { href: "#/signin", "aria-current": route?.nav === "signin" ? "page" : null }, "Sign in")),
        h("li", {}, h("a", { href: "#/signup", "aria-current": route?.nav === "signup" ? "page" : null }, "Create account")),
      ),
    );
    return;
  }
  const links = NAV.map((item) =>
    h("li", {}, h("a", { href: item.href, "aria-current": route?.nav === item.id ? "page" : null }, item.label)),
  );
  const out = h(
    "button",
    {
      type: "button",
      class: "link-button",
      onclick: async () => {
        try {
          await signOut();
          flash("You are signed out.");
        } catch (error) {
          flash(`Signed out on this device; the server could not be told: ${error.message}`);
        }
      },
    },
    "Sign out",
  );
  replace(nav, h("ul", {}, links, h("li", { class: "nav-user" }, h("span", { class: "user-name" }, username()), out)));
}

async function render() {
  const path = currentPath();
  let route = null;
  let match = null;
  for (const candidate of ROUTES) {
    match = candidate.pattern.exec(path);
    if (match) {
      route = candidate;
      break;
    }
  }
  if (!route && path !== "/" && isSignedIn()) route = NOT_FOUND;
  if (!route) return navigate(isSignedIn() ? "/upload" : "/signin");
  if (!route.open && !isSignedIn()) {
    returnTo = path;
    return navigate("/signin");
  }
  if (route.open && isSignedIn()) return navigate("/upload");

  active?.controller.abort();
  active?.cleanup?.();
  const controller = new AbortController();
  active = { controller, cleanup: null };
  renderNav(route);
  clearMessages();
  const message = takeFlash();
  if (message) announce(message);
  const params = route.params ? route.params(match) : {};
  const cleanup = await route.view.render(main, params, { signal: controller.signal, navigate, afterSignIn });
  if (controller.signal.aborted) {
    cleanup?.();
    return;
  }
  active.cleanup = cleanup;
  const heading = main.querySelector("h1");
  if (heading) {
    document.title = `${heading.textContent} – Health Platform`;
    heading.setAttribute("tabindex", "-1");
    if (!firstRender) heading.focus({ preventScroll: true });
  }
  firstRender = false;
}

function afterSignIn() {
  const target = returnTo ?? "/upload";
  returnTo = null;
  navigate(target);
}

onSessionChange((signedIn) => {
  if (!signedIn) {
    flash("Your session has ended. Please sign in again.", { keep: true });
    navigate("/signin");
  }
});

document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", render);
render();
