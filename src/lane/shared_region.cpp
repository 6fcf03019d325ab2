#include "imlane/lane/shared_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace imlane {

SharedRegion::~SharedRegion() { Reset(); }

SharedRegion::SharedRegion(SharedRegion&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      fd_(std::exchange(other.fd_, -1)) {}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void SharedRegion::Reset() {
  if (data_ != nullptr) munmap(data_, size_);
  CloseFd();
  data_ = nullptr;
  size_ = 0;
}

void SharedRegion::CloseFd() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Result<SharedRegion> SharedRegion::Create(const std::string& name, size_t bytes, bool prefault) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  bytes = (bytes + page - 1) / page * page;
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return Status::FromErrno("memfd_create(" + name + ")", errno);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int e = errno;
    close(fd);
    return Status::FromErrno("ftruncate of a " + std::to_string(bytes) + "-byte Lane", e);
  }
  // The size is part of the contract with the peers: seal it so nobody can shrink it under them.
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | (prefault ? MAP_POPULATE : 0), fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    close(fd);
    return Status::FromErrno("mmap of a " + std::to_string(bytes) + "-byte Lane", e);
  }
  SharedRegion r;
  r.data_ = static_cast<uint8_t*>(p);
  r.size_ = bytes;
  r.fd_ = fd;
  return r;
}

Result<SharedRegion> SharedRegion::Attach(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return Status::FromErrno("fstat of a received Lane", e);
  }
  size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes == 0) {
    close(fd);
    return Status::ProtocolError("received an empty shared region");
  }
  // MAP_POPULATE maps the pages the creator already faulted in; no zeroing happens here.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    close(fd);
    return Status::FromErrno("mmap of a received Lane", e);
  }
  SharedRegion r;
  r.data_ = static_cast<uint8_t*>(p);
  r.size_ = bytes;
  r.fd_ = fd;
  return r;
}

}  // namespace imlane
