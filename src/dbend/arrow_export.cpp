#include "imlane/arrow_export.h"

#include <memory>
#include <string>
#include <vector>

namespace imlane {

namespace {

// What the exported arrays point to. Shared by the parent and every child, so that a child moved
// out of the parent keeps the Lane slot (and so its buffers) alive on its own.
struct ExportedBatch {
  PulledBatch batch;
  std::vector<std::vector<const void*>> child_buffers;
  std::vector<ArrowArray> child_arrays;
  std::vector<ArrowArray*> child_array_ptrs;
  const void* parent_buffers[1] = {nullptr};
};
using ExportRef = std::shared_ptr<ExportedBatch>;

void ReleaseArray(ArrowArray* array) {
  if (array == nullptr || array->release == nullptr) return;
  auto* ref = static_cast<ExportRef*>(array->private_data);
  // The parent releases the children that were not moved out (their release is still set).
  for (int64_t i = 0; i < array->n_children; i++) {
    ArrowArray* child = array->children[i];
    if (child != nullptr && child->release != nullptr) child->release(child);
  }
  array->release = nullptr;
  delete ref;  // the last reference frees the slot
}

// A child schema owns its name, so that it stays valid when moved out of its parent.
void ReleaseChildSchema(ArrowSchema* schema) {
  if (schema == nullptr || schema->release == nullptr) return;
  delete static_cast<std::string*>(schema->private_data);
  schema->release = nullptr;
}

struct ExportedSchema {
  std::vector<ArrowSchema> children;
  std::vector<ArrowSchema*> child_ptrs;
};

void ReleaseSchema(ArrowSchema* schema) {
  if (schema == nullptr || schema->release == nullptr) return;
  auto* owned = static_cast<ExportedSchema*>(schema->private_data);
  for (ArrowSchema& child : owned->children) {
    if (child.release != nullptr) child.release(&child);
  }
  delete owned;
  schema->release = nullptr;
}

}  // namespace

Status ExportToArrow(PulledBatch batch, ArrowArray* array, ArrowSchema* schema) {
  if (array == nullptr || schema == nullptr)
    return Status::InvalidArgument("ExportToArrow needs an array and a schema");
  const BatchView view = batch.batch();
  const size_t n = view.num_columns();
  auto owned_schema = std::make_unique<ExportedSchema>();
  owned_schema->children.resize(n);
  for (size_t c = 0; c < n; c++) {
    auto* name = new std::string("c" + std::to_string(c));
    ArrowSchema& s = owned_schema->children[c];
    s = ArrowSchema{};
    s.format = ArrowFormat(view.column(c).type());  // a string literal
    s.name = name->c_str();
    s.private_data = name;
    s.flags = ARROW_FLAG_NULLABLE;
    s.release = ReleaseChildSchema;
    owned_schema->child_ptrs.push_back(&s);
  }

  auto ref = std::make_shared<ExportedBatch>();
  ref->child_buffers.resize(n);
  ref->child_arrays.resize(n);
  for (size_t c = 0; c < n; c++) {
    const ColumnView& col = view.column(c);
    auto& buffers = ref->child_buffers[c];
    buffers.push_back(col.null_count() > 0 ? col.validity() : nullptr);
    if (col.type() == TypeId::kVarchar) buffers.push_back(col.offsets());
    buffers.push_back(col.data());
    ArrowArray& a = ref->child_arrays[c];
    a = ArrowArray{};
    a.length = static_cast<int64_t>(col.length());
    a.null_count = static_cast<int64_t>(col.null_count());
    a.n_buffers = static_cast<int64_t>(buffers.size());
    a.buffers = buffers.data();
    a.release = ReleaseArray;
    a.private_data = new ExportRef(ref);
    ref->child_array_ptrs.push_back(&a);
  }
  ref->batch = std::move(batch);

  *schema = ArrowSchema{};
  schema->format = "+s";
  schema->name = "";
  schema->n_children = static_cast<int64_t>(n);
  schema->children = owned_schema->child_ptrs.data();
  schema->release = ReleaseSchema;
  schema->private_data = owned_schema.release();

  *array = ArrowArray{};
  array->length = static_cast<int64_t>(view.num_rows());
  array->n_buffers = 1;  // a struct array has only its (absent) validity bitmap
  array->buffers = ref->parent_buffers;
  array->n_children = static_cast<int64_t>(n);
  array->children = ref->child_array_ptrs.data();
  array->release = ReleaseArray;
  array->private_data = new ExportRef(ref);
  return Status::OK();
}

}  // namespace imlane
