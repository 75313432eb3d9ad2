// The 16-lane AVX-512F vector wrapper that simd_kernels.inc is written
// against; the same names as simd_vec_avx2.h. Included only by
// simd_avx512.cpp, inside its target region and its private namespace.
constexpr int kW = 16;
struct VF { __m512 v; };
struct VI { __m512i v; };
struct VM { __mmask16 m; };

inline VF set1(float x) { return {_mm512_set1_ps(x)}; }
inline VF loadu(const float* p) { return {_mm512_loadu_ps(p)}; }
inline void storeu(float* p, VF a) { _mm512_storeu_ps(p, a.v); }
inline VF add(VF a, VF b) { return {_mm512_add_ps(a.v, b.v)}; }
inline VF sub(VF a, VF b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline VF mul(VF a, VF b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline VF div(VF a, VF b) { return {_mm512_div_ps(a.v, b.v)}; }
inline VF fmadd(VF a, VF b, VF c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline VF fnmadd(VF a, VF b, VF c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }
inline VF fmsub(VF a, VF b, VF c) { return {_mm512_fmsub_ps(a.v, b.v, c.v)}; }
inline VF vmin(VF a, VF b) { return {_mm512_min_ps(a.v, b.v)}; }
inline VF vmax(VF a, VF b) { return {_mm512_max_ps(a.v, b.v)}; }
inline VF vabs(VF a) { return {_mm512_abs_ps(a.v)}; }
inline VF round_nearest(VF a) {
  return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
inline VM gt(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline VM ge(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline VF select(VM m, VF t, VF f) { return {_mm512_mask_blend_ps(m.m, f.v, t.v)}; }
inline float hmax(VF a) {
  alignas(64) float l[kW];
  _mm512_store_ps(l, a.v);
  float m = l[0];
  for (int i = 1; i < kW; ++i) m = l[i] > m ? l[i] : m;
  return m;
}
inline VF ldexp_int(VF p, VF n) { return {_mm512_scalef_ps(p.v, n.v)}; }
inline VF exponent_of(VF x) { return {_mm512_getexp_ps(x.v)}; }
inline VF mantissa_of(VF x) { return {_mm512_getmant_ps(x.v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src)}; }

struct DAcc { __m512d lo, hi; };
inline DAcc dacc_zero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
inline DAcc dacc_add(DAcc a, VF v) {
  return {_mm512_add_pd(a.lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v.v))),
          _mm512_add_pd(a.hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v.v), 1))))};
}
inline double dacc_sum(DAcc a) {
  alignas(64) double l[8];
  _mm512_store_pd(l, _mm512_add_pd(a.lo, a.hi));
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

constexpr int kDW = 8;
struct VD { __m512d v; };
inline VD dset1(double x) { return {_mm512_set1_pd(x)}; }
inline VD dload_f(const float* p) { return {_mm512_cvtps_pd(_mm256_loadu_ps(p))}; }
inline void dstore_f(float* p, VD a) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(a.v)); }
inline VD dadd(VD a, VD b) { return {_mm512_add_pd(a.v, b.v)}; }
inline VD dsub(VD a, VD b) { return {_mm512_sub_pd(a.v, b.v)}; }
inline VD dmul(VD a, VD b) { return {_mm512_mul_pd(a.v, b.v)}; }
inline VD dloadu(const double* p) { return {_mm512_loadu_pd(p)}; }
inline void dstoreu(double* p, VD a) { _mm512_storeu_pd(p, a.v); }
inline double dsum(VD a) {
  alignas(64) double l[8];
  _mm512_store_pd(l, a.v);
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

inline VI iset1(uint32_t x) { return {_mm512_set1_epi32(static_cast<int>(x))}; }
inline VI iloadu(const uint32_t* p) { return {_mm512_loadu_si512(p)}; }
inline void istoreu(uint32_t* p, VI a) { _mm512_storeu_si512(p, a.v); }
inline VI iadd(VI a, VI b) { return {_mm512_add_epi32(a.v, b.v)}; }
inline VI ixor3(VI a, VI b, VI c) { return {_mm512_ternarylogic_epi32(a.v, b.v, c.v, 0x96)}; }
inline VI unpacklo32(VI a, VI b) { return {_mm512_unpacklo_epi32(a.v, b.v)}; }
inline VI unpackhi32(VI a, VI b) { return {_mm512_unpackhi_epi32(a.v, b.v)}; }
inline VI unpacklo64(VI a, VI b) { return {_mm512_unpacklo_epi64(a.v, b.v)}; }
inline VI unpackhi64(VI a, VI b) { return {_mm512_unpackhi_epi64(a.v, b.v)}; }
inline void mulhilo(VI m, VI c, VI* lo, VI* hi) {
  const __m512i pe = _mm512_mul_epu32(c.v, m.v);
  const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(c.v, 32), m.v);
  lo->v = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
  hi->v = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}
inline VI philox_lane_blocks() {
  return {_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)};
}
inline VF to_uniform(VI w) {
  return {_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w.v, 8)), _mm512_set1_ps(1.0f / 16777216.0f))};
}
inline VF to_uniform_open(VI w) {
  return {_mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w.v, 9)), _mm512_set1_ps(0.5f)),
                        _mm512_set1_ps(1.0f / 8388608.0f))};
}
