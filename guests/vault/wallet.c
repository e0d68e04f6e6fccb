/* wallet.c: a balance and a ledger of payments per VM (vsock port 5003, docs/vault.md,
 * "Wallet"). The owner tops it up (the demo's stand-in for money arriving) and pays; each
 * payment is on the disk and in the rollback counter before its receipt, signed by the device
 * key with the counter's value, goes out. A replayed disk is refused at boot (store.c); a
 * replayed request is refused when it names the payment number it expects to be. */
#include "vault.h"


#define WALLETS_MAX 4u
#define LEDGER_KEEP 16u                 /* the last payments whose receipts can be asked again */
#define BALANCE_MAX 1000000000000000ull
#define PER_CID_MAX 2u
#define COUNTER 2u
#define RECEIPT_MAX 200u

/* Receipt claims (docs/vault.md): uint keys, in this order. */
enum { R_PAYER = 1, R_PAYEE, R_AMOUNT, R_SEQ, R_BALANCE, R_COUNTER, R_UEID };

struct payment {
	uint64_t amount, balance, counter;
	uint32_t seq;
	uint8_t payee_size, pad[3];
	uint8_t payee[SVC_NAME_MAX];
};
struct wallet {
	uint8_t used, pad[7];
	uint8_t owner[PV_NAME_SIZE];
	uint64_t balance;
	uint32_t payments, pad2;
	struct payment ledger[LEDGER_KEEP]; /* payment n at (n - 1) % LEDGER_KEEP */
};
struct wallets {
	struct wallet w[WALLETS_MAX];
};

static struct wallets live, next;
static struct store store = {
	.name = "wallet", .id = 3, .counter = COUNTER, .records = &live,
	.records_size = sizeof(live),
};

enum op { TOPUP, PAY, BALANCE, RECEIPT };
static const struct svc_op ops[] = {
	[TOPUP] = { "topup", SVC_BIT(SVC_AMOUNT), 0 },
	[PAY] = { "pay", SVC_BIT(SVC_AMOUNT) | SVC_BIT(SVC_PAYEE), SVC_BIT(SVC_SEQ) },
	[BALANCE] = { "balance", 0, 0 },
	[RECEIPT] = { "receipt", SVC_BIT(SVC_SEQ), 0 },
};

static int find(const struct wallets *ws, const uint8_t owner[PV_NAME_SIZE])
{
	for (unsigned i = 0; i < WALLETS_MAX; i++)
		if (ws->w[i].used && !memcmp(ws->w[i].owner, owner, PV_NAME_SIZE))
			return (int)i;
	return -1;
}

static size_t name_size(const uint8_t *s)
{
	size_t n = 0;
	while (n < PV_NAME_SIZE && s[n])
		n++;
	return n;
}

/* A COSE_Sign1 by the device key over the payment, as {"receipt": bstr} plus `extra` pairs. */
static const char *receipt(const struct wallet *w, const struct payment *p, struct cbor_out *o,
			   unsigned extra)
{
	uint8_t claims[RECEIPT_MAX], signed_[RECEIPT_MAX + 80];
	struct cbor_out c, s;

	if (devkey_state() != DEVKEY_READY)
		return "no device key";
	cbor_out_init(&c, claims, sizeof(claims));
	cbor_head(&c, CBOR_MAP, 7);
	cbor_uint(&c, R_PAYER);
	cbor_tstr(&c, (const char *)w->owner, name_size(w->owner));
	cbor_uint(&c, R_PAYEE);
	cbor_tstr(&c, (const char *)p->payee, p->payee_size);
	cbor_uint(&c, R_AMOUNT);
	cbor_uint(&c, p->amount);
	cbor_uint(&c, R_SEQ);
	cbor_uint(&c, p->seq);
	cbor_uint(&c, R_BALANCE);
	cbor_uint(&c, p->balance);
	cbor_uint(&c, R_COUNTER);
	cbor_uint(&c, p->counter);
	cbor_uint(&c, R_UEID);
	cbor_bstr(&c, devkey_ueid(), UEID_SIZE);
	cbor_out_init(&s, signed_, sizeof(signed_));
	if (c.overflow || !token_sign1(&s, claims, c.len))
		return "signing failed";
	cbor_head(o, CBOR_MAP, 1 + extra);
	cbor_tstr(o, "receipt", 7);
	cbor_bstr(o, signed_, s.len);
	return NULL;
}

static const char *topup(const uint8_t owner[PV_NAME_SIZE], uint64_t amount, struct cbor_out *o)
{
	int i = find(&live, owner);

	next = live;
	if (i < 0) {
		for (i = 0; i < (int)WALLETS_MAX && next.w[i].used; i++)
			;
		if (i == (int)WALLETS_MAX)
			return "wallet table full";
		memset(&next.w[i], 0, sizeof(next.w[i]));
		next.w[i].used = 1;
		memcpy(next.w[i].owner, owner, PV_NAME_SIZE);
	}
	if (amount > BALANCE_MAX - next.w[i].balance)
		return "balance would pass 10^15";
	next.w[i].balance += amount;
	const char *why = store_commit(&store, &next);
	if (why)
		return why;
	cbor_head(o, CBOR_MAP, 1);
	cbor_tstr(o, "balance", 7);
	cbor_uint(o, live.w[i].balance);
	return NULL;
}

static const char *pay(const uint8_t owner[PV_NAME_SIZE], const struct svc_request *req,
		       struct cbor_out *o)
{
	int i = find(&live, owner);
	uint64_t amount = req->f[SVC_AMOUNT].value, balance = i < 0 ? 0 : live.w[i].balance;
	uint32_t seq = i < 0 ? 1 : live.w[i].payments + 1;

	if (req->f[SVC_SEQ].present && req->f[SVC_SEQ].value != seq)
		return why_number("payment replayed or out of order (the next is ", seq, ")");
	if (amount > balance)
		return why_number("insufficient funds (balance ", balance, ")");
	if (devkey_state() != DEVKEY_READY)
		return "no device key"; /* before anything changes: there would be no receipt */
	next = live;
	struct wallet *w = &next.w[i];
	struct payment *p = &w->ledger[(seq - 1) % LEDGER_KEEP];
	memset(p, 0, sizeof(*p));
	p->amount = amount;
	p->balance = w->balance -= amount;
	p->counter = store.value + 1;   /* what the commit takes the counter to */
	p->seq = w->payments = seq;
	p->payee_size = (uint8_t)req->f[SVC_PAYEE].size;
	memcpy(p->payee, req->f[SVC_PAYEE].bytes, p->payee_size);
	const char *why = store_commit(&store, &next);
	if (why)
		return why;
	const struct wallet *lw = &live.w[i];
	if ((why = receipt(lw, &lw->ledger[(seq - 1) % LEDGER_KEEP], o, 3)))
		return why; /* paid all the same: `receipt N` asks again */
	cbor_tstr(o, "seq", 3);
	cbor_uint(o, seq);
	cbor_tstr(o, "balance", 7);
	cbor_uint(o, lw->balance);
	cbor_tstr(o, "counter", 7);
	cbor_uint(o, store.value);
	return NULL;
}

static const char *handle(const uint8_t *body, uint32_t size, uint64_t cid, struct cbor_out *o)
{
	struct svc_request req;
	struct caller who;
	uint8_t owner[PV_NAME_SIZE];
	const char *why = service_begin(body, size, ops, sizeof(ops) / sizeof(ops[0]), cid, &store,
					&req, &who, owner);

	if (why)
		return why;
	if (req.op == TOPUP)
		return topup(owner, req.f[SVC_AMOUNT].value, o);
	if (req.op == PAY)
		return pay(owner, &req, o);
	int i = find(&live, owner);
	const struct wallet *w = i < 0 ? NULL : &live.w[i];
	if (req.op == BALANCE) {
		cbor_head(o, CBOR_MAP, 3);
		cbor_tstr(o, "balance", 7);
		cbor_uint(o, w ? w->balance : 0);
		cbor_tstr(o, "payments", 8);
		cbor_uint(o, w ? w->payments : 0);
		cbor_tstr(o, "counter", 7);
		cbor_uint(o, store.value);
		return NULL;
	}
	uint64_t n = req.f[SVC_SEQ].value;
	if (!w || n > w->payments)
		return why_number("no payment ", n, "");
	if (n + LEDGER_KEEP <= w->payments)
		return why_number("receipt ", n, " no longer kept (the last 16 are)");
	return receipt(w, &w->ledger[(n - 1) % LEDGER_KEEP], o, 0);
}

static struct service service = {
	.name = "wallet", .port = WALLET_PORT, .request_max = SERVICE_REQUEST_MAX,
	.per_cid_max = PER_CID_MAX, .handle = handle,
};

bool wallet_start(void)
{
	store_load(&store);
	return server_listen(&service);
}
