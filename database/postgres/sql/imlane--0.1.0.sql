-- IMLane for PostgreSQL 15: the SQL surface of the DuckDB integration (imlane_create_function,
-- imlane_drop_function, imlane_functions) plus the registry that lets every backend, parallel
-- worker and a restarted coordinator find a function's definition again.
\echo Use "CREATE EXTENSION imlane" to load this file. \quit

-- What imlane_create_function registered. The coordinator's own registry lives only as long as the
-- coordinator; this table outlives it, so a backend that meets an unknown name registers it again.
CREATE TABLE imlane_registry (
  name text PRIMARY KEY,
  source text NOT NULL,
  arg_types text NOT NULL,
  return_type text NOT NULL,
  entry text NOT NULL DEFAULT '',
  null_handling text NOT NULL DEFAULT 'default',
  exception_handling text NOT NULL DEFAULT 'default',
  batch_size bigint NOT NULL DEFAULT 0,
  sql_function regprocedure
);
SELECT pg_catalog.pg_extension_config_dump('imlane_registry', '');
-- Every role that may call a function reads its definition; only imlane_create_function writes.
GRANT SELECT ON imlane_registry TO PUBLIC;

-- Registers (or replaces) a Python function with the coordinator and creates the SQL function
-- `name(args) RETURNS return_type` that calls it.
CREATE FUNCTION imlane_create_function(
    function_name text, source text, arg_types text, return_type text,
    entry text DEFAULT '', batch_size bigint DEFAULT 0,
    null_handling text DEFAULT 'default', exception_handling text DEFAULT 'default',
    OUT name text, OUT version integer, OUT signature text, OUT executors integer)
  RETURNS record
  AS 'MODULE_PATHNAME', 'imlane_create_function' LANGUAGE C VOLATILE;

CREATE FUNCTION imlane_drop_function(function_name text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'imlane_drop_function' LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION imlane_functions(
    OUT name text, OUT version integer, OUT signature text, OUT source text,
    OUT executors integer, OUT executors_loaded integer, OUT loads bigint, OUT batches bigint,
    OUT rows bigint, OUT mean_batch_rows double precision, OUT busy_s double precision,
    OUT errors bigint, OUT null_handling text, OUT exception_handling text)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'imlane_functions' LANGUAGE C VOLATILE;

-- Empties the executors' inference-context caches (or only what function_name loaded); returns
-- how many objects went. The next call of a holistic function loads again.
CREATE FUNCTION imlane_reset_cache(function_name text DEFAULT '') RETURNS integer
  AS 'MODULE_PATHNAME', 'imlane_reset_cache' LANGUAGE C VOLATILE STRICT;

-- The coordinator's `imlane status --json` document.
CREATE FUNCTION imlane_status() RETURNS text
  AS 'MODULE_PATHNAME', 'imlane_status' LANGUAGE C VOLATILE;
