#!/usr/bin/env bash
# Start the local PostgreSQL, Redis and RabbitMQ if one is not running (CI and fresh shells).
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do listening "$port" && return 0; sleep 0.5; done
  echo "error: $name is not listening on 127.0.0.1:$port" >&2
  return 1
}

if ! listening 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! listening 6379; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! listening 5672; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
fi
wait_for PostgreSQL 5432
wait_for Redis 6379
wait_for RabbitMQ 5672
echo "services ready: PostgreSQL 5432, Redis 6379, RabbitMQ 5672"
