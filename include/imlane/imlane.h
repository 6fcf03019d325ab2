// Everything an engine needs from IMLane's DBEnd library.
#pragma once

#include "imlane/batch.h"
#include "imlane/batch_accumulator.h"
#include "imlane/batch_tuner.h"
#include "imlane/column_batch.h"
#include "imlane/dbend.h"
#include "imlane/status.h"
#include "imlane/table_converter.h"
#include "imlane/types.h"
