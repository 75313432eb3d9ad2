// Runs one piece of core work off the JS thread and settles a Promise with
// its result: the pattern every long native operation uses (a training step,
// inference, checkpoint I/O). The core returns a Status; a failure rejects
// the Promise with an Error carrying its code.
#pragma once
#include <napi.h>

#include <functional>
#include <new>

#include "core/status.h"
#include "errors.h"

namespace electra_addon {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<electra::Status()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  using Finally = std::function<void()>;

  // `keep` is kept alive until the work settles (the JS object that owns the
  // native state the work touches); `fin` runs on the JS thread first.
  static Napi::Promise Run(Napi::Env env, Napi::Object keep, Work work, Done done, Finally fin) {
    auto* w = new PromiseWorker(env, keep, std::move(work), std::move(done), std::move(fin));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      status_ = work_();
    } catch (const std::bad_alloc&) {
      status_ = electra::OutOfMemory("out of host memory");
    } catch (...) {
      status_ = electra::Internal("unexpected native exception");
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (fin_) fin_();
    if (!status_.ok()) {
      deferred_.Reject(StatusToError(Env(), status_).Value());
      return;
    }
    try {
      deferred_.Resolve(done_ ? done_(Env()) : Env().Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    if (fin_) fin_();
    deferred_.Reject(e.Value());
  }

 private:
  PromiseWorker(Napi::Env env, Napi::Object keep, Work work, Done done, Finally fin)
      : Napi::AsyncWorker(env, "electra-native"),
        deferred_(Napi::Promise::Deferred::New(env)),
        keep_(Napi::Persistent(keep)),
        work_(std::move(work)),
        done_(std::move(done)),
        fin_(std::move(fin)) {}

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keep_;
  Work work_;
  Done done_;
  Finally fin_;
  electra::Status status_;
};

}  // namespace electra_addon
