// The 8-lane AVX2 + FMA vector wrapper that simd_kernels.inc is written
// against. Included only by simd_avx2.cpp, inside its target region and its
// private namespace, so nothing here is visible to (or shared with) code built
// for the baseline target. simd_vec_avx512.h offers the same names for 16 lanes.
constexpr int kW = 8;
struct VF { __m256 v; };   // 8 floats
struct VI { __m256i v; };  // 8 uint32 words
struct VM { __m256 v; };   // lane mask (all-ones lanes are true)

inline VF set1(float x) { return {_mm256_set1_ps(x)}; }
inline VF loadu(const float* p) { return {_mm256_loadu_ps(p)}; }
inline void storeu(float* p, VF a) { _mm256_storeu_ps(p, a.v); }
inline VF add(VF a, VF b) { return {_mm256_add_ps(a.v, b.v)}; }
inline VF sub(VF a, VF b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline VF mul(VF a, VF b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline VF div(VF a, VF b) { return {_mm256_div_ps(a.v, b.v)}; }
inline VF fmadd(VF a, VF b, VF c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }    // a*b + c
inline VF fnmadd(VF a, VF b, VF c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }  // c - a*b
inline VF fmsub(VF a, VF b, VF c) { return {_mm256_fmsub_ps(a.v, b.v, c.v)}; }    // a*b - c
// min/max return the second operand when either is NaN (as minps/maxps).
inline VF vmin(VF a, VF b) { return {_mm256_min_ps(a.v, b.v)}; }
inline VF vmax(VF a, VF b) { return {_mm256_max_ps(a.v, b.v)}; }
inline VF vabs(VF a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
inline VF round_nearest(VF a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline VM gt(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }  // false on NaN
inline VM ge(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline VF select(VM m, VF t, VF f) { return {_mm256_blendv_ps(f.v, t.v, m.v)}; }
inline float hmax(VF a) {  // NaN lanes never win (strict >)
  alignas(32) float l[kW];
  _mm256_store_ps(l, a.v);
  float m = l[0];
  for (int i = 1; i < kW; ++i) m = l[i] > m ? l[i] : m;
  return m;
}

// p * 2^n for integral n in [-150, 128], rounded once: 2^n is applied as two
// normal powers 2^(n>>1) and 2^(n - (n>>1)) (each in [-75, 64]), the first
// product being exact, so subnormal results round as AVX-512's scalef does.
inline VF ldexp_int(VF p, VF n) {
  const __m256i ni = _mm256_cvtps_epi32(n.v);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return {_mm256_mul_ps(_mm256_mul_ps(p.v, s1), s2)};
}
// For normal x > 0: floor(log2 x) and the mantissa in [1, 2), from the bits
// (the values getexp/getmant give on AVX-512).
inline VF exponent_of(VF x) {
  const __m256i e = _mm256_srli_epi32(_mm256_castps_si256(x.v), 23);
  return {_mm256_cvtepi32_ps(_mm256_sub_epi32(e, _mm256_set1_epi32(127)))};
}
inline VF mantissa_of(VF x) {
  const __m256i m = _mm256_and_si256(_mm256_castps_si256(x.v), _mm256_set1_epi32(0x007FFFFF));
  return {_mm256_castsi256_ps(_mm256_or_si256(m, _mm256_set1_epi32(0x3F800000)))};
}

// Four double accumulators per 8 float lanes (the sums of softmax rows and
// cross-entropy rows stay in double, as in the scalar oracle).
struct DAcc { __m256d lo, hi; };
inline DAcc dacc_zero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
inline DAcc dacc_add(DAcc a, VF v) {
  return {_mm256_add_pd(a.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v.v))),
          _mm256_add_pd(a.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v.v, 1)))};
}
inline double dacc_sum(DAcc a) {
  alignas(32) double l[4];
  _mm256_store_pd(l, _mm256_add_pd(a.lo, a.hi));
  return (l[0] + l[1]) + (l[2] + l[3]);
}

// Double lanes for LayerNorm's double-precision row statistics: kDW doubles
// from kDW floats and back.
constexpr int kDW = 4;
struct VD { __m256d v; };
inline VD dset1(double x) { return {_mm256_set1_pd(x)}; }
inline VD dload_f(const float* p) { return {_mm256_cvtps_pd(_mm_loadu_ps(p))}; }
inline void dstore_f(float* p, VD a) { _mm_storeu_ps(p, _mm256_cvtpd_ps(a.v)); }
inline VD dadd(VD a, VD b) { return {_mm256_add_pd(a.v, b.v)}; }
inline VD dsub(VD a, VD b) { return {_mm256_sub_pd(a.v, b.v)}; }
inline VD dmul(VD a, VD b) { return {_mm256_mul_pd(a.v, b.v)}; }
inline VD dloadu(const double* p) { return {_mm256_loadu_pd(p)}; }
inline void dstoreu(double* p, VD a) { _mm256_storeu_pd(p, a.v); }
inline double dsum(VD a) {
  alignas(32) double l[4];
  _mm256_store_pd(l, a.v);
  return (l[0] + l[1]) + (l[2] + l[3]);
}

inline VI iset1(uint32_t x) { return {_mm256_set1_epi32(static_cast<int>(x))}; }
inline VI iloadu(const uint32_t* p) { return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))}; }
inline void istoreu(uint32_t* p, VI a) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a.v); }
inline VI iadd(VI a, VI b) { return {_mm256_add_epi32(a.v, b.v)}; }
inline VI ixor3(VI a, VI b, VI c) { return {_mm256_xor_si256(_mm256_xor_si256(a.v, b.v), c.v)}; }
inline VI unpacklo32(VI a, VI b) { return {_mm256_unpacklo_epi32(a.v, b.v)}; }  // within 128-bit lanes
inline VI unpackhi32(VI a, VI b) { return {_mm256_unpackhi_epi32(a.v, b.v)}; }
inline VI unpacklo64(VI a, VI b) { return {_mm256_unpacklo_epi64(a.v, b.v)}; }
inline VI unpackhi64(VI a, VI b) { return {_mm256_unpackhi_epi64(a.v, b.v)}; }
// lo/hi halves of the 32x32 -> 64-bit products m * c, lane by lane.
inline void mulhilo(VI m, VI c, VI* lo, VI* hi) {
  const __m256i pe = _mm256_mul_epu32(c.v, m.v);                         // even lanes
  const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(c.v, 32), m.v);  // odd lanes
  lo->v = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  hi->v = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}
// Lane j's block within a group of kW blocks: the 4x4 in-lane transposes that
// store the Philox outputs leave block (kW/4)*(j%4) + j/4 in memory order.
inline VI philox_lane_blocks() { return {_mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)}; }
// Words to floats: (w >> 8) * 2^-24 (philox_to_uniform) and
// ((w >> 9) + 0.5) * 2^-23 (philox_to_uniform_open).
inline VF to_uniform(VI w) {
  return {_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w.v, 8)), _mm256_set1_ps(1.0f / 16777216.0f))};
}
inline VF to_uniform_open(VI w) {
  return {_mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w.v, 9)), _mm256_set1_ps(0.5f)),
                        _mm256_set1_ps(1.0f / 8388608.0f))};
}
