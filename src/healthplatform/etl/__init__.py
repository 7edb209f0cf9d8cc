"""ETL narrative engine: decode uploads, deduplicate records, compute clinical metrics per
local day, write narratives and training examples."""
