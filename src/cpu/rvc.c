/* RVC (C extension, RV64) expansion: every 16-bit parcel maps to its 32-bit
 * equivalent once, in a table, so the interpreter decodes only one format. */
#include <stdint.h>
#include "cpu/rvc.h"

static uint32_t enc_r(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static uint32_t enc_i(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return (uint32_t)(imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static uint32_t enc_s(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
	return (uint32_t)((imm >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
	       (uint32_t)(imm & 0x1f) << 7 | op;
}
static uint32_t enc_b(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 |
	       f3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
static uint32_t enc_j(int32_t imm, unsigned rd)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
	       ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

static unsigned bit(uint32_t c, int n) { return (c >> n) & 1; }
static unsigned bits(uint32_t c, int hi, int lo) { return (c >> lo) & ((1u << (hi - lo + 1)) - 1); }
static int32_t sext(uint32_t v, int width) { return (int32_t)(v << (32 - width)) >> (32 - width); }

uint32_t rvc_expand(uint16_t c)
{
	unsigned op = c & 3, f3 = bits(c, 15, 13);
	unsigned rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
	unsigned rdp = bits(c, 4, 2) + 8, rs1p = bits(c, 9, 7) + 8;
	int32_t imm6 = sext(bit(c, 12) << 5 | bits(c, 6, 2), 6);

	if (op == 0) {
		uint32_t uw = bits(c, 12, 10) << 3 | bit(c, 6) << 2 | bit(c, 5) << 6;   /* lw/sw */
		uint32_t ud = bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6;                 /* ld/sd */
		switch (f3) {
		case 0: {
			uint32_t nz = bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bit(c, 6) << 2 | bit(c, 5) << 3;
			return nz ? enc_i(nz, 2, 0, rdp, 0x13) : 0;
		}
		case 1: return enc_i(ud, rs1p, 3, rdp, 0x07);   /* c.fld */
		case 2: return enc_i(uw, rs1p, 2, rdp, 0x03);   /* c.lw */
		case 3: return enc_i(ud, rs1p, 3, rdp, 0x03);   /* c.ld */
		case 5: return enc_s(ud, rdp, rs1p, 3, 0x27);   /* c.fsd */
		case 6: return enc_s(uw, rdp, rs1p, 2, 0x23);   /* c.sw */
		case 7: return enc_s(ud, rdp, rs1p, 3, 0x23);   /* c.sd */
		}
		return 0;
	}
	if (op == 1) {
		switch (f3) {
		case 0: return enc_i(imm6, rd, 0, rd, 0x13);               /* c.addi */
		case 1: return rd ? enc_i(imm6, rd, 0, rd, 0x1b) : 0;      /* c.addiw */
		case 2: return enc_i(imm6, 0, 0, rd, 0x13);                /* c.li */
		case 3:
			if (rd == 2) {                                     /* c.addi16sp */
				int32_t nz = sext(bit(c, 12) << 9 | bit(c, 6) << 4 | bit(c, 5) << 6 |
						  bits(c, 4, 3) << 7 | bit(c, 2) << 5, 10);
				return nz ? enc_i(nz, 2, 0, 2, 0x13) : 0;
			} else {                                           /* c.lui */
				int32_t nz = sext(bit(c, 12) << 17 | bits(c, 6, 2) << 12, 18);
				return nz ? ((uint32_t)nz & 0xfffff000u) | rd << 7 | 0x37 : 0;
			}
		case 4: {
			unsigned f2 = bits(c, 11, 10);
			unsigned sh = bit(c, 12) << 5 | bits(c, 6, 2);
			if (f2 == 0) return enc_i(sh, rs1p, 5, rs1p, 0x13);            /* c.srli */
			if (f2 == 1) return enc_i(0x400 | sh, rs1p, 5, rs1p, 0x13);    /* c.srai */
			if (f2 == 2) return enc_i(imm6, rs1p, 7, rs1p, 0x13);          /* c.andi */
			unsigned f = bits(c, 6, 5);
			if (!bit(c, 12)) {
				static const unsigned f3s[4] = { 0, 4, 6, 7 };
				return enc_r(f == 0 ? 0x20 : 0, rdp, rs1p, f3s[f], rs1p, 0x33);
			}
			if (f == 0) return enc_r(0x20, rdp, rs1p, 0, rs1p, 0x3b);      /* c.subw */
			if (f == 1) return enc_r(0, rdp, rs1p, 0, rs1p, 0x3b);         /* c.addw */
			return 0;
		}
		case 5: {                                                  /* c.j */
			int32_t off = sext(bit(c, 12) << 11 | bit(c, 11) << 4 | bits(c, 10, 9) << 8 |
					   bit(c, 8) << 10 | bit(c, 7) << 6 | bit(c, 6) << 7 |
					   bits(c, 5, 3) << 1 | bit(c, 2) << 5, 12);
			return enc_j(off, 0);
		}
		default: {                                                 /* c.beqz/c.bnez */
			int32_t off = sext(bit(c, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
					   bits(c, 4, 3) << 1 | bit(c, 2) << 5, 9);
			return enc_b(off, 0, rs1p, f3 == 6 ? 0 : 1);
		}
		}
	}
	if (op == 2) {
		uint32_t ud = bit(c, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6;
		uint32_t uw = bit(c, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6;
		uint32_t sd = bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6;
		uint32_t sw = bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6;
		switch (f3) {
		case 0: return enc_i(bit(c, 12) << 5 | rs2, rd, 1, rd, 0x13);   /* c.slli */
		case 1: return enc_i(ud, 2, 3, rd, 0x07);                      /* c.fldsp */
		case 2: return rd ? enc_i(uw, 2, 2, rd, 0x03) : 0;             /* c.lwsp */
		case 3: return rd ? enc_i(ud, 2, 3, rd, 0x03) : 0;             /* c.ldsp */
		case 4:
			if (!bit(c, 12)) {
				if (rs2 == 0)
					return rd ? enc_i(0, rd, 0, 0, 0x67) : 0;      /* c.jr */
				return enc_r(0, rs2, 0, 0, rd, 0x33);                   /* c.mv */
			}
			if (rs2 == 0) {
				if (rd == 0)
					return 0x00100073;                             /* c.ebreak */
				return enc_i(0, rd, 0, 1, 0x67);                       /* c.jalr */
			}
			return enc_r(0, rs2, rd, 0, rd, 0x33);                         /* c.add */
		case 5: return enc_s(sd, rs2, 2, 3, 0x27);                     /* c.fsdsp */
		case 6: return enc_s(sw, rs2, 2, 2, 0x23);                     /* c.swsp */
		case 7: return enc_s(sd, rs2, 2, 3, 0x23);                     /* c.sdsp */
		}
	}
	return 0;
}
