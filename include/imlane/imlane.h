// Everything an engine needs from IMLane's DBEnd library.
#pragma once

#include "imlane/arrow_c_abi.h"
#include "imlane/arrow_export.h"
#include "imlane/batch_accumulator.h"
#include "imlane/batch_builder.h"
#include "imlane/batch_lease.h"
#include "imlane/batch_tuner.h"
#include "imlane/batch_view.h"
#include "imlane/bit_util.h"
#include "imlane/column_batch.h"
#include "imlane/dbend_context.h"
#include "imlane/function_spec.h"
#include "imlane/settings.h"
#include "imlane/status.h"
#include "imlane/table_converter.h"
#include "imlane/types.h"
