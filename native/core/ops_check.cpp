#include "ops_check.h"

#include <cmath>
#include <sstream>
#include <string>

namespace electra {
namespace check {
namespace {

std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

Status integer(const char* name, double v, int64_t lo, int64_t hi, int64_t* out) {
  if (!std::isfinite(v))
    return InvalidArgument(std::string(name) + " must be a finite integer, got " + num(v));
  if (std::floor(v) != v)
    return InvalidArgument(std::string(name) + " must be an integer, got " + num(v));
  if (v < double(lo) || v > double(hi))
    return InvalidArgument(std::string(name) + " must be in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "], got " + num(v));
  if (out) *out = int64_t(v);
  return Status::Ok();
}

Status size(const char* name, double v, int64_t* out) {
  if (std::isfinite(v) && std::floor(v) == v && v < 1)
    return InvalidArgument(std::string(name) + " must be a positive integer, got " + num(v));
  return integer(name, v, 1, kMaxDim, out);
}

Status finite_in(const char* name, double v, double lo, bool lo_incl, double hi, bool hi_incl) {
  bool ok = std::isfinite(v) && (lo_incl ? v >= lo : v > lo) && (hi_incl ? v <= hi : v < hi);
  if (ok) return Status::Ok();
  std::string range = std::string(lo_incl ? "[" : "(") + num(lo) + ", " + num(hi) + (hi_incl ? "]" : ")");
  return InvalidArgument(std::string(name) + " must be a finite number in " + range + ", got " + num(v));
}

Status length(const char* name, int64_t got, int64_t expected, const char* what) {
  if (got == expected) return Status::Ok();
  return InvalidArgument(std::string(name) + " has length " + std::to_string(got) + ", expected " +
                         what + " = " + std::to_string(expected));
}

Status product(const char* what, int64_t a, int64_t b, int64_t* out) {
  if (a < 0 || b < 0 || (a != 0 && b > kMaxElements / a))
    return InvalidArgument(std::string(what) + " = " + std::to_string(a) + " * " + std::to_string(b) +
                           " exceeds the maximum of " + std::to_string(kMaxElements) + " elements");
  if (out) *out = a * b;
  return Status::Ok();
}

Status ids_in_range(const char* name, const int32_t* ids, int64_t n, int64_t limit,
                    const char* limit_name) {
  if (n > 0 && ids == nullptr) return InvalidArgument(std::string(name) + " is null");
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || int64_t(ids[i]) >= limit)
      return InvalidArgument(std::string(name) + "[" + std::to_string(i) + "] = " +
                             std::to_string(ids[i]) + " is out of range [0, " + limit_name + " = " +
                             std::to_string(limit) + ")");
  }
  return Status::Ok();
}

Status linear_forward(double M, double K, double N, int64_t inp_len, int64_t weight_len,
                      int64_t bias_len, int64_t* m, int64_t* k, int64_t* n) {
  ELECTRA_RETURN_IF_ERROR(size("M", M, m));
  ELECTRA_RETURN_IF_ERROR(size("K", K, k));
  ELECTRA_RETURN_IF_ERROR(size("N", N, n));
  int64_t mk = 0, nk = 0, mn = 0;
  ELECTRA_RETURN_IF_ERROR(product("M*K", *m, *k, &mk));
  ELECTRA_RETURN_IF_ERROR(product("N*K", *n, *k, &nk));
  ELECTRA_RETURN_IF_ERROR(product("M*N", *m, *n, &mn));
  ELECTRA_RETURN_IF_ERROR(length("inp", inp_len, mk, "M*K"));
  ELECTRA_RETURN_IF_ERROR(length("weight", weight_len, nk, "N*K"));
  if (bias_len >= 0) ELECTRA_RETURN_IF_ERROR(length("bias", bias_len, *n, "N"));
  return Status::Ok();
}

Status layernorm_forward(double N, double C, double eps, int64_t inp_len, int64_t gamma_len,
                         int64_t beta_len, int64_t* n, int64_t* c) {
  ELECTRA_RETURN_IF_ERROR(size("N", N, n));
  ELECTRA_RETURN_IF_ERROR(size("C", C, c));
  ELECTRA_RETURN_IF_ERROR(finite_in("eps", eps, 0.0, false, 1.0, true));
  int64_t nc = 0;
  ELECTRA_RETURN_IF_ERROR(product("N*C", *n, *c, &nc));
  ELECTRA_RETURN_IF_ERROR(length("inp", inp_len, nc, "N*C"));
  ELECTRA_RETURN_IF_ERROR(length("gamma", gamma_len, *c, "C"));
  ELECTRA_RETURN_IF_ERROR(length("beta", beta_len, *c, "C"));
  return Status::Ok();
}

Status elementwise(const char* op, int64_t n) {
  if (n < 0 || n > kMaxElements)
    return InvalidArgument(std::string(op) + ": element count " + std::to_string(n) +
                           " is out of range [0, " + std::to_string(kMaxElements) + "]");
  return Status::Ok();
}

Status crossentropy(double V, int64_t logits_len, const int32_t* rows, int64_t rows_len,
                    const int32_t* targets, int64_t targets_len, double grad_scale,
                    int64_t* v, int64_t* n_rows) {
  ELECTRA_RETURN_IF_ERROR(size("V", V, v));
  if (logits_len <= 0 || logits_len % *v != 0)
    return InvalidArgument("logits has length " + std::to_string(logits_len) +
                           ", expected a positive multiple of V = " + std::to_string(*v));
  const int64_t N = logits_len / *v;
  if (rows_len < 1) return InvalidArgument("rows must hold at least one row index");
  ELECTRA_RETURN_IF_ERROR(length("targets", targets_len, rows_len, "rows.length"));
  ELECTRA_RETURN_IF_ERROR(ids_in_range("rows", rows, rows_len, N, "logits.length / V"));
  ELECTRA_RETURN_IF_ERROR(ids_in_range("targets", targets, targets_len, *v, "V"));
  ELECTRA_RETURN_IF_ERROR(finite_in("gradScale", grad_scale, -1e30, true, 1e30, true));
  if (n_rows) *n_rows = N;
  return Status::Ok();
}

Status dropout_p(double p) { return finite_in("p", p, 0.0, true, 1.0, false); }

Status threads(double n, int64_t* out) { return integer("threads", n, 1, 1024, out); }

}  // namespace check
}  // namespace electra
