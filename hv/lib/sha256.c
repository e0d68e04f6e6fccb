/* sha256.c: SHA-256 (FIPS 180-4), HMAC-SHA256 and HKDF-Expand, written for size: the portable
 * compression function is the fallback of the Armv8 SHA-2 instructions (arch_sha256_blocks). */
#include <pv/crypto.h>
#include <pv/string.h>

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes. The instruction path (sha256_ce.S) reads the same table. */
const u32 sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static u32 ror(u32 x, u32 n)
{
	return x >> n | x << (32 - n);
}

/* The message schedule lives in a ring of 16 words, each replaced as it is used up. */
static void blocks(u32 h[8], const u8 *p, u64 n)
{
	if (arch_sha256_blocks(h, p, n))
		return;
	for (; n--; p += SHA256_BLOCK) {
		u32 w[16], s[8];
		memcpy(s, h, sizeof(s));
		for (u32 i = 0; i < 64; i++) {
			u32 *x = &w[i & 15];
			if (i < 16) {
				*x = (u32)p[4 * i] << 24 | (u32)p[4 * i + 1] << 16 | (u32)p[4 * i + 2] << 8 |
				     p[4 * i + 3];
			} else {
				u32 a = w[(i + 1) & 15], b = w[(i + 14) & 15];
				*x += (ror(a, 7) ^ ror(a, 18) ^ a >> 3) + w[(i + 9) & 15] +
				      (ror(b, 17) ^ ror(b, 19) ^ b >> 10);
			}
			u32 e = s[4], a = s[0];
			u32 t1 = s[7] + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & s[5]) ^ (~e & s[6])) +
				 sha256_k[i] + *x;
			u32 t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & s[1]) ^ (a & s[2]) ^ (s[1] & s[2]));
			for (u32 j = 7; j; j--)
				s[j] = s[j - 1];
			s[4] += t1;
			s[0] = t1 + t2;
		}
		for (u32 i = 0; i < 8; i++)
			h[i] += s[i];
	}
}

void sha256_init(struct sha256 *s)
{
	/* FIPS 180-4 5.3.3: square roots of the first 8 primes. */
	static const u32 iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
}

void sha256_update(struct sha256 *s, const void *data, u64 n)
{
	const u8 *p = data;
	u32 have = (u32)(s->len % SHA256_BLOCK);
	if (!n)
		return; /* data may be NULL then */
	s->len += n;
	if (have) {
		u32 take = n < SHA256_BLOCK - have ? (u32)n : SHA256_BLOCK - have;
		memcpy(s->buf + have, p, take);
		p += take, n -= take;
		if (have + take < SHA256_BLOCK)
			return;
		blocks(s->h, s->buf, 1);
	}
	blocks(s->h, p, n / SHA256_BLOCK); /* straight from the caller's memory */
	memcpy(s->buf, p + (n & ~(u64)(SHA256_BLOCK - 1)), n % SHA256_BLOCK);
}

void sha256_final(struct sha256 *s, u8 out[SHA256_SIZE])
{
	u64 bits = s->len * 8;
	u8 pad[SHA256_BLOCK + 8] = { 0x80 };
	u32 have = (u32)(s->len % SHA256_BLOCK);
	u32 n = (have < 56 ? 56 : 120) - have;
	for (u32 i = 0; i < 8; i++)
		pad[n + i] = (u8)(bits >> (56 - 8 * i));
	sha256_update(s, pad, n + 8);
	for (u32 i = 0; i < SHA256_SIZE; i++)
		out[i] = (u8)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

void sha256(const void *p, u64 n, u8 out[SHA256_SIZE])
{
	struct sha256 s;
	sha256_init(&s);
	sha256_update(&s, p, n);
	sha256_final(&s, out);
}

/* The key (at most a block) XORed with ipad (0x36) or opad (0x5c) as a hash's first block. */
static void keyed(struct sha256 *s, const u8 *key, u32 key_len, u8 pad)
{
	u8 b[SHA256_BLOCK];
	for (u32 i = 0; i < SHA256_BLOCK; i++)
		b[i] = (i < key_len ? key[i] : 0) ^ pad;
	sha256_init(s);
	sha256_update(s, b, SHA256_BLOCK);
	secure_zero(b, sizeof(b));
}

void hmac(const u8 *key, u32 key_len, const void *a, u64 a_len, const void *b, u64 b_len,
	  u8 out[SHA256_SIZE])
{
	struct sha256 s;
	u8 inner[SHA256_SIZE];
	keyed(&s, key, key_len, 0x36);
	sha256_update(&s, a, a_len);
	sha256_update(&s, b, b_len);
	sha256_final(&s, inner);
	keyed(&s, key, key_len, 0x5c);
	sha256_update(&s, inner, SHA256_SIZE);
	sha256_final(&s, out);
	secure_zero(&s, sizeof(s));
	secure_zero(inner, sizeof(inner));
}

void hkdf_expand32(const u8 prk[SHA256_SIZE], const void *info, u32 info_len, u8 out[SHA256_SIZE])
{
	static const u8 one = 1; /* T(1) = HMAC(PRK, info || 0x01), RFC 5869 2.3 */
	hmac(prk, SHA256_SIZE, info, info_len, &one, 1, out);
}

void secure_zero(void *p, u64 n)
{
	memset(p, 0, n);
	__asm__ volatile("" : : "r"(p) : "memory"); /* the stores are observed */
}
