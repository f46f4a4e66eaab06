// The integration-test harness: everything a node black-box test needs.
//
//   TempDir       scratch directories             tests/harness/temp_dir.h
//   TestPostgres  one PostgreSQL per test process  tests/harness/test_postgres.h
//   NodeProcess   the real groupchat binary        tests/harness/node_process.h
//   RunCli        one-shot CLI runs (migrate, ...)  tests/harness/node_process.h
//   HttpClient    keep-alive JSON API client       tests/harness/http_client.h
//   RawConnection raw bytes for protocol abuse     tests/harness/http_client.h
//   NodeScript    a Node.js peer (S3, push service) tests/harness/node_script.h
#pragma once

#include "tests/harness/http_client.h"
#include "tests/harness/node_process.h"
#include "tests/harness/node_script.h"
#include "tests/harness/temp_dir.h"
#include "tests/harness/test_postgres.h"
#include "tests/harness/ws_client.h"
#include "tests/harness/test_util.h"
