/*
 * pbft_int.h — the state of the pbft plug-in, shared by its files (not a public header).
 *
 *   pbft.c          the ops, the timer thread, the envelope pool
 *   pbft_core.c     normal case: PRE-PREPARE, PREPARE, COMMIT, execution, checkpoints, STATUS
 *   pbft_check.c    checks of what arrives (a proposed block, before mu) and blocks as kept
 *   pbft_ahead.c    messages for later blocks, held until the chain gets there
 *   pbft_pool.c     the pool of envelopes waiting for a block
 *   pbft_view.c     VIEW-CHANGE and NEW-VIEW
 *   pbft_net.c      the Cluster service, the links to the other orderers, state transfer
 *   pbft_persist.c  what survives a restart
 *
 * docs/CONSENSUS.md describes the protocol as implemented. In short: n = 3f+1 orderers from the
 * channel configuration; one block in flight (block seq = last executed + 1); the primary of
 * view v is orderers[v mod n]; every message is signed (lib/ledger/pbft_msg.h).
 *
 * Locking: `mu` guards everything in struct pbft but the pool (its own `pool_mu`) and the
 * links (each its own lock). Handlers verify signatures and envelopes before taking `mu`;
 * execution (the core's deliver_block) runs under `mu`. Lock order: mu, then pool_mu, then a
 * link's lock; never the other way.
 */
#ifndef STELE_ORDERER_PBFT_INT_H
#define STELE_ORDERER_PBFT_INT_H

#include "orderer/consensus/consensus.h"

#include "base/buf.h"
#include "ledger/pbft_msg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PBFT_MAX_NODES       64  /* orderers per channel */
#define PBFT_STATUS_EVERY_MS 500 /* heartbeat period */
#define PBFT_TICK_MS         20  /* timer thread resolution */
/* A complaint not repeated for this long is stale (its sender may be down). */
#define PBFT_COMPLAINT_FRESH_MS (4 * PBFT_STATUS_EVERY_MS)
/* A STATUS dated (its sender's clock) further back than this says nothing of complaints: a
 * replay. Also the most a sender's clock may have been ahead before it was set back. */
#define PBFT_STATUS_MAX_AGE_MS 30000
/* A STATUS complains, as far as we count it, only if it is dated (its sender's clock) at most
 * this far from our clock either way: what we count we can show in a VIEW-CHANGE. */
#define PBFT_COMPLAINT_SKEW_MS 10000
/* A quorum of complaints a VIEW-CHANGE carries proves the view's end only if their timestamps
 * lie this close together: those of a replica that counted them do (each arrived within
 * PBFT_COMPLAINT_FRESH_MS, dated within PBFT_COMPLAINT_SKEW_MS of its arrival), withdrawn
 * ones gathered over time need not. */
#define PBFT_PROOF_SPREAD_MS (PBFT_COMPLAINT_FRESH_MS + 2 * PBFT_COMPLAINT_SKEW_MS)
/* At most this many octets of a signed STATUS are kept as a complaint (ours are a few hundred;
 * a larger one, padded by its faulty sender, is counted but not carried in VIEW-CHANGEs). */
#define PBFT_COMPLAINT_MAX_BYTES 1024
#define PBFT_LINK_QUEUE          4096 /* messages queued per link before the oldest are dropped */
#define PBFT_LINK_BYTES          (64u << 20) /* ... or octets queued (proposals carry blocks) */

struct pbft_link;
struct pbft_pool;

/* Which Byzantine behaviour a test build simulates (params.fault). */
enum pbft_fault {
    PBFT_FAULT_NONE = 0,
    PBFT_FAULT_EQUIVOCATE, /* as primary, different blocks to different backups */
    PBFT_FAULT_BAD_SIGS,   /* every signature it sends is corrupted */
    PBFT_FAULT_SILENT,     /* sends nothing at all */
    PBFT_FAULT_WITHHOLD,   /* as primary, PRE-PREPARE to all backups but the last, and no COMMIT:
                              a block then waits for commits until a view change */
};

/* One vote (PREPARE or COMMIT) held per sender for the block in flight. */
struct pbft_vote {
    bool have;          /* a vote from this sender is held */
    uint64_t view;      /* its view */
    uint8_t digest[32]; /* the digest it voted for */
    struct buf signed_; /* the serialized PbftSigned, for certificates and proofs */
};

/* The block in flight: seq = last_exec + 1. */
struct pbft_slot {
    uint64_t seq;                              /* block number */
    bool have_pp;                              /* a PRE-PREPARE for (view, seq) is accepted */
    uint64_t pp_view;                          /* its view */
    uint8_t digest[32];                        /* its digest */
    struct buf pp_signed;                      /* the PbftSigned PRE-PREPARE with its block */
    struct buf block;                          /* the serialized block */
    struct pbft_vote prepares[PBFT_MAX_NODES]; /* by sender */
    struct pbft_vote commits[PBFT_MAX_NODES];  /* by sender */
    bool sent_prepare;                         /* this node sent PREPARE for (pp_view, digest) */
    bool sent_commit;                          /* ... COMMIT */
    bool prepared;                             /* prepared(digest, pp_view, seq) holds */
    uint64_t pp_at_ms;                         /* monotonic time the PRE-PREPARE arrived */
    bool blamed; /* we showed the others a PRE-PREPARE of its primary that we refused */
};

/* The latest VIEW-CHANGE held from one sender. */
struct pbft_vc {
    bool have;
    uint64_t view;      /* the view it moves to */
    uint64_t last_seq;  /* its proven last committed block */
    bool prepared;      /* it carries a prepared proof for last_seq + 1 */
    uint64_t prep_view; /* the view of that proof */
    uint8_t prep_digest[32];
    struct buf signed_; /* the serialized PbftSigned */
};

/* CHECKPOINT votes for one block number. */
struct pbft_ckpt {
    uint64_t seq;                       /* 0 or <= stable: unused */
    bool have[PBFT_MAX_NODES];          /* by sender */
    uint8_t digest[PBFT_MAX_NODES][32]; /* what each sender said */
};
/* Checkpoint numbers tracked at most: the window (stable, stable + L] holds L/K of them, each
 * with its own slot, so that no number ever pushes out another. A configuration with a larger
 * L/K runs with L lowered to PBFT_MAX_CKPTS * K (pbft_create() says so in the log). */
#define PBFT_MAX_CKPTS 256

/* A signed message for a block after the one in flight, held until that block is reached. At
 * most one per (type, sender, block), PBFT_AHEAD_PER_SENDER and PBFT_AHEAD_BYTES / n octets
 * per sender: one faulty orderer can neither grow memory nor push out the others' messages. */
struct pbft_held {
    struct buf msg; /* the serialized PbftSigned (a PRE-PREPARE with its block) */
    uint64_t seq;   /* the block it is for */
    int type;       /* its Stele__PbftType */
    size_t from;    /* its sender */
};
#define PBFT_AHEAD_BLOCKS     4 /* blocks ahead of the one in flight held per sender and type */
#define PBFT_AHEAD_PER_SENDER (3 * PBFT_AHEAD_BLOCKS) /* PRE-PREPARE, PREPARE, COMMIT */
#define PBFT_AHEAD_BYTES      (64u << 20) /* octets held in all, shared equally by the senders */

struct pbft {
    struct consensus_params p;     /* as given (pointers owned by the core) */
    struct consensus_callbacks cb; /* as given */
    struct pbft_members m;         /* the orderer set and keys */
    size_t me;                     /* this orderer's index in m */
    enum pbft_fault fault;         /* test builds: simulated misbehaviour */

    /* parameters (ChannelConfig.pbft, with defaults) */
    uint32_t ckpt_interval;   /* K */
    uint32_t log_window;      /* L */
    uint64_t request_timeout; /* ms */
    uint64_t vc_timeout_base; /* ms */
    uint64_t vc_timeout_max;  /* ms */
    uint64_t batch_delay;     /* ms the primary lets a block that is not full wait for more
                                 envelopes (this orderer's consensus.batch_delay) */

    pthread_mutex_t mu;
    /* The timer thread sleeps on `wake` under `wake_mu`, not under mu, so that pbft_order()
     * can wake it without waiting for mu; pbft_wake_timer() sets `wake_pending` and signals.
     * Lock order: mu, then wake_mu. */
    pthread_mutex_t wake_mu;
    pthread_cond_t wake;
    bool wake_pending; /* under wake_mu */

    /* normal case */
    uint64_t view;
    uint64_t view_changes;      /* times `view` rose since pbft_create(): a view change begun, or a
                                   NEW-VIEW of a later view installed (not a restored view) */
    bool active;                /* false between VIEW-CHANGE and NEW-VIEW */
    uint64_t free_since;        /* monotonic ms the slot was last reset (block executed, view
                                   change): a block that is not full waits batch_delay from it */
    uint64_t propose_at;        /* monotonic ms the timer thread proposes the waiting block (0:
                                   no block waits) */
    uint64_t next_tick;         /* monotonic ms of the timer thread's next PBFT_TICK_MS work */
    uint64_t last_exec;         /* number of the last block executed (chain height - 1) */
    uint8_t last_digest[32];    /* its header hash */
    struct buf last_proof;      /* its serialized PbftProof (empty for the genesis block) */
    uint8_t genesis_digest[32]; /* header hash of block 0 */
    struct pbft_slot slot;      /* the block in flight */
    struct pbft_held ahead[PBFT_MAX_NODES * PBFT_AHEAD_PER_SENDER]; /* messages for later
                                                                       blocks, oldest first */
    size_t n_ahead;

    /* checkpoints */
    uint64_t stable;         /* low watermark h */
    struct pbft_ckpt *ckpts; /* log_window / ckpt_interval of them (calloc'd) */
    size_t n_ckpts;

    /* view change */
    struct pbft_vc vcs[PBFT_MAX_NODES]; /* latest VIEW-CHANGE per sender */
    uint64_t vc_deadline;               /* monotonic ms: give up waiting for NEW-VIEW */
    uint64_t vc_timeout;                /* current (doubling) timeout */
    uint64_t vc_resend_at;              /* resend our VIEW-CHANGE then */
    struct buf my_vc;                   /* our VIEW-CHANGE for `view` while !active */
    struct buf new_view;                /* the NEW-VIEW that started `view` (empty: view 0) */
    struct buf pending_o;               /* a NEW-VIEW's PRE-PREPARE waiting for state transfer */
    struct buf pending_block; /* a NEW-VIEW's certified block min_s, waiting for those before it */
    uint64_t view_floor;      /* min_s of the NEW-VIEW that started `view`: nothing at or below
                                 it is proposed or voted on in this view */
    struct buf best_prepared; /* serialized PbftPrepared: the highest-view prepared proof held
                                 for block best_seq, kept across view changes until that block
                                 is executed (empty: none) */
    uint64_t best_seq, best_view;

    /* what peers report (STATUS) */
    uint64_t peer_seq[PBFT_MAX_NODES];
    bool peer_heard[PBFT_MAX_NODES];       /* a STATUS came from it since we started */
    bool peer_in_view[PBFT_MAX_NODES];     /* its latest STATUS since our view change to `view`
                                              began said it runs `view` (active) */
    uint64_t nv_sent_at[PBFT_MAX_NODES];   /* when we last handed our NEW-VIEW to each peer */
    uint64_t complaint[PBFT_MAX_NODES];    /* 1 + the view its latest STATUS complained about
                                              (0: it does not complain) */
    uint64_t complaint_at[PBFT_MAX_NODES]; /* monotonic ms that STATUS arrived: a complaint
                                              counts for PBFT_COMPLAINT_FRESH_MS after */
    uint64_t status_ts[PBFT_MAX_NODES];    /* timestamp_ms of the latest STATUS taken from
                                              each sender: an older one (a replay) is not */
    struct buf complaint_signed[PBFT_MAX_NODES]; /* that STATUS (serialized PbftSigned) while it
                                                    complains, ours included; else empty */
    uint64_t proven_view; /* 1 + a view a VIEW-CHANGE proved a quorum complained about (0:
                             none; pbft_take_complaints) */
    struct buf left_proof[PBFT_MAX_NODES]; /* the complaints we held when we last left an
                                              active view (our VIEW-CHANGEs carry them) */
    size_t n_left_proof;
    uint64_t status_ts_sent; /* timestamp_ms of our latest STATUS */
    uint64_t status_at;      /* next heartbeat, monotonic ms */
    uint64_t behind_since;   /* f+1 peers are ahead of us since then (0: not) */
    uint64_t behind_exec;    /* our last block then */

    /* request timer (backups): the oldest pooled envelope and since when it is timed */
    char timed_tx[65];
    uint64_t timed_since;
    uint64_t view_started; /* monotonic ms the current view became active */

    /* our complaint (pbft_complain): about view complained_view, made when block
     * complained_exec was our last; withdrawn once a later block executed in that view and
     * the request timer no longer runs out, unless the primary's own signatures prove it
     * (`complaint_proven`: kept for the rest of the view) */
    bool complaining, complaint_proven;
    uint64_t complained_view, complained_exec;
    uint64_t blamed_exec; /* the executed block whose conflicting PRE-PREPARE we showed */

    /* state transfer */
    bool syncing;         /* the sync thread is fetching */
    uint64_t sync_target; /* fetch up to this block */
    bool sync_wanted;     /* a new target was set */
    pthread_cond_t sync_cv;
    pthread_t sync_thread;

    struct pbft_pool *pool;                  /* envelopes waiting to be ordered */
    struct pbft_link *links[PBFT_MAX_NODES]; /* outbound, NULL for me */

    int state_fd[2];          /* pbft.state.0 and .1 (pbft_persist.c), -1 until opened */
    uint64_t persist_counter; /* counter of the last state written */
    bool persist_failed;      /* the last pbft_persist() failed */

    bool stopping;
    bool running;
    bool failed; /* the core refused a block */
    /* Read without mu by Broadcast threads (pbft_order), written through pbft_publish(). */
    atomic_bool accepting; /* running, not stopping, not failed */
    atomic_bool leading;   /* active primary of the current view */
    /* Set by pbft_order(): an envelope was pooled that no holder of mu may have seen; the
     * timer thread (or a Step message handled meanwhile) proposes. */
    atomic_bool propose_wanted;
    bool links_up, sync_up, timer_up; /* which threads pbft_start() started */
    pthread_t timer;
};

/* ---- pbft.c ---- */
/* Current monotonic milliseconds. */
uint64_t pbft_now(void);
/* Updates `accepting` and `leading` from the state (caller holds mu). */
void pbft_publish(struct pbft *b);
/* Wakes the timer thread to look at the state again (stopping, propose_at, propose_wanted).
 * Any thread, with or without mu. */
void pbft_wake_timer(struct pbft *b);
/* The request timer's work at monotonic ms `now` (timer thread; caller holds mu): a backup
 * whose oldest pooled envelope waited request_timeout complains (pbft_complain), forwarding
 * old envelopes half-way; a complaint whose cause has passed is withdrawn. */
void pbft_request_tick(struct pbft *b, uint64_t now);

/* ---- pool (pbft_pool.c) ---- */
struct pbft_pool *pbft_pool_create(void);
void pbft_pool_destroy(struct pbft_pool *pl);
/* Adds a copy of an envelope with its tx_id and hash. Returns STELE_OK, STELE_ERR_REPLAY (the
 * tx_id is held already) or STELE_ERR_NOMEM. On STELE_OK, *n and *bytes (either may be NULL)
 * are the pool's count and octets right after this envelope went in. */
int pbft_pool_add(struct pbft_pool *pl, const char *tx_id, const uint8_t hash[32],
                  const uint8_t *env, size_t len, uint64_t now, size_t *n, uint64_t *bytes);
/* True when the pool holds `tx_id` with exactly this envelope hash (it was checked on entry). */
bool pbft_pool_has(struct pbft_pool *pl, const char *tx_id, const uint8_t hash[32]);
/* Removes `tx_id` if held. */
void pbft_pool_remove(struct pbft_pool *pl, const char *tx_id);
/* `tx_id` is in a block now: removes it if held and remembers it (for the last 65,536 such),
 * so that pbft_pool_add() refuses it with STELE_ERR_REPLAY when it arrives late — from a
 * Broadcast that claimed it just before the block was appended, or forwarded. */
void pbft_pool_commit(struct pbft_pool *pl, const char *tx_id);
/* Copies the oldest envelopes into `out` (malloc'd array of malloc'd copies, *n of them): at
 * most max_count, at most max_bytes in total unless the first alone is bigger. */
int pbft_pool_take(struct pbft_pool *pl, uint32_t max_count, uint64_t max_bytes,
                   ProtobufCBinaryData **out, size_t *n);
/* Number of envelopes held, and the arrival time of the oldest (0 when empty). */
size_t pbft_pool_size(struct pbft_pool *pl, uint64_t *oldest);
/* Number of envelopes held, their octets in total, and the arrival time of the oldest (0 when
 * empty), read at one instant. */
void pbft_pool_load(struct pbft_pool *pl, size_t *n, uint64_t *bytes, uint64_t *oldest);
/* The tx_id and arrival time of the oldest envelope; false when empty. */
bool pbft_pool_oldest(struct pbft_pool *pl, char tx_id[65], uint64_t *at);
/* Calls fn for at most `max` envelopes, oldest first, that arrived before `before` and were not
 * forwarded yet, marking them forwarded. Returns how many. */
/* Marks every pooled envelope as not forwarded yet, so that pbft_pool_stale() offers it again. */
void pbft_pool_unforward(struct pbft_pool *pl);
size_t pbft_pool_stale(struct pbft_pool *pl, uint64_t before, size_t max,
                       void (*fn)(void *arg, const uint8_t *env, size_t len), void *arg);

/* ---- pbft_core.c (caller holds mu) ---- */
/* Handles an opened message from member `from`; `s` is what arrived (with a block for a
 * PRE-PREPARE, already checked by pbft_check_proposal() when `block_ok`). */
void pbft_handle(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                 size_t from, bool block_ok);
/* Proposes a block when this node is an active primary with nothing in flight: at once when
 * the pool holds a full block (max_message_count envelopes or preferred_max_bytes), else once
 * batch_delay passed since both the oldest pooled envelope arrived and the slot became free
 * (never later than batch_timeout after that envelope arrived); until then it sets
 * propose_at for the timer thread and returns. */
void pbft_maybe_propose(struct pbft *b);
/* Resets the slot for seq = last_exec + 1. */
void pbft_slot_reset(struct pbft *b);
/* Signs `msg` (sender and channel filled in here) into `out` (a serialized PbftSigned,
 * replaced); `block` (may be NULL) rides beside a PRE-PREPARE or FORWARD. */
int pbft_sign_into(struct pbft *b, Stele__PbftMessage *msg, const struct buf *block,
                   struct buf *out);
/* Sends signed bytes of `type` to every other orderer (test faults applied here). */
void pbft_send_signed(struct pbft *b, Stele__PbftType type, const struct buf *wire);
/* Keeps the slot's prepared proof (it just became prepared) as the best one for its block, to
 * survive view changes until that block is executed. */
void pbft_keep_prepared(struct pbft *b);
/* pbft_sign_into() then pbft_send_signed(); `out` (may be NULL) gets the bytes. */
int pbft_broadcast(struct pbft *b, Stele__PbftMessage *msg, const struct buf *block,
                   struct buf *out);
/* Executes a block that carries a valid certificate (state transfer): appends it when it is
 * block last_exec + 1 and links to last_digest. */
int pbft_execute_certified(struct pbft *b, const Stele__Block *blk, const uint8_t hash[32]);
/* Serializes the PbftSigned `s` into `out` (replaced) with only its message, signature and
 * block: unknown fields a sender added are not kept. */
int pbft_pack_signed(const Stele__PbftSigned *s, struct buf *out);
/* Serializes a PRE-PREPARE `s` with its block re-encoded by pbft_block_canonical() into
 * `signed_out`, and that block alone into `block_out` (may be NULL); both replaced. Returns
 * STELE_OK, STELE_ERR_MALFORMED (the block does not decode) or STELE_ERR_NOMEM. */
int pbft_pack_proposal(const struct pbft *b, const Stele__PbftSigned *s, struct buf *signed_out,
                       struct buf *block_out);

/* ---- pbft_ahead.c (caller holds mu) ---- */
/* Holds `s` (of `type`, from member `from`) for block `seq` > last_exec + 1 of the current
 * view, unless one of that type from that sender for that block is held already or the
 * sender's share is used up by nearer blocks. */
void pbft_hold_ahead(struct pbft *b, const Stele__PbftSigned *s, int type, size_t from,
                     uint64_t seq);
/* Re-handles held messages for block last_exec + 1 and drops those for older blocks. */
void pbft_replay_ahead(struct pbft *b);
/* Drops every held message (a new view, or the end). */
void pbft_ahead_clear(struct pbft *b);
/* Opens the serialized PbftSigned in `data` and handles it as if received (re-checking a
 * proposal's block). */
void pbft_handle_bytes(struct pbft *b, const uint8_t *data, size_t len);
/* Sends our PRE-PREPARE (as primary) and votes for the block in flight again. */
void pbft_resend_votes(struct pbft *b);
/* Hands our NEW-VIEW to a peer in an older view, at most every 2 s per peer (a NEW-VIEW holds
 * blocks: a faulty peer must not make us send it in a loop). */
void pbft_show_new_view(struct pbft *b, size_t to);
/* Sends a STATUS heartbeat now. */
void pbft_send_status(struct pbft *b);

/* ---- pbft_check.c ---- */
/* pbft_open(), and what the plug-in reads of every message besides: a PRE-PREPARE, PREPARE,
 * COMMIT or CHECKPOINT carries a 32-octet digest (pbft_open() lets a message without one
 * through). Every message the plug-in handles is opened with this. */
int pbft_open_msg(const struct pbft *b, struct arena *a, const Stele__PbftSigned *s,
                  Stele__PbftMessage **out, size_t *sender, const char **why);

/* What the check of a proposed block found. */
enum pbft_verdict {
    PBFT_BLOCK_OK,      /* the block the primary signed, and it keeps every rule */
    PBFT_BLOCK_FOREIGN, /* not the block the signed digest names (it does not decode, or its
                           header or envelopes differ): the signature does not cover the bytes
                           beside it, so whoever relayed it may have swapped them; dropped,
                           nobody is blamed */
    PBFT_BLOCK_INVALID, /* the very block the primary signed, breaking a rule: its fault */
};
/* Checks, without mu, a PRE-PREPARE's block: decodes, digest, data hash, then number and every
 * envelope (pool or core checks, no duplicate tx_id). *why (may be NULL) says what failed. */
enum pbft_verdict pbft_check_proposal(struct pbft *b, const Stele__PbftSigned *s,
                                      const Stele__PbftMessage *msg, const char **why);
/* Block `in` as this orderer keeps it, into *out (in `a`, sharing `in`'s bytes): its header
 * fields and envelopes (what the header hash covers) and metadata made here: consensus type
 * "pbft", this channel, the timestamp of `in`, last_config 0 and, when `proof` is not NULL, that
 * commit certificate re-encoded with only each COMMIT's message and signature. Nothing else a
 * sender put in the encoding (unknown fields, validation codes, a state hash) is kept. Returns
 * STELE_OK, STELE_ERR_MALFORMED (no header) or STELE_ERR_NOMEM. */
int pbft_block_canonical(const struct pbft *b, struct arena *a, const Stele__Block *in,
                         const Stele__PbftProof *proof, Stele__Block **out);

/* ---- pbft_view.c and pbft_complain.c (caller holds mu) ---- */
/* Leaves the current view for `view` (> current): signs and sends a VIEW-CHANGE. */
void pbft_start_view_change(struct pbft *b, uint64_t view, const char *reason);
/* Complains about the current view for `reason` (a literal) while still voting in it, by an
 * immediate STATUS and every heartbeat after; `proven` when the primary's signatures show the
 * fault (the complaint is then kept for the rest of the view). A replica leaves a view only
 * when a quorum complains about it (pbft_count_complaints), so one whose link from the primary
 * fails, or to which alone a Byzantine primary misbehaves, is not left alone in a view the
 * others never start (pbft-protocol.md, S-2). Its pooled envelopes are forwarded again (a
 * forward lost on a bad link would otherwise keep it complaining). Once per view. */
void pbft_complain(struct pbft *b, const char *reason, bool proven);
/* True while we complain about the view we run (active in it). */
bool pbft_complaining(const struct pbft *b);
/* Withdraws our complaint, which the caller found has no cause left (nothing waits too long),
 * once a block executed in the view since it was made, unless it is proven: the STATUS sent at
 * once says so. A complaint about an earlier view is dropped quietly. */
void pbft_withdraw_complaint(struct pbft *b);
/* Sends `data` to every orderer but us and the primary of our view. */
void pbft_send_backups(struct pbft *b, const struct buf *data);
/* The primary signed a PRE-PREPARE `s` for the slot that we refuse (`reason`, a literal): we
 * complain (proven), and show the other backups `s` and the one we hold, once per slot. */
void pbft_blame_primary(struct pbft *b, const Stele__PbftSigned *s, const char *reason);
/* A PRE-PREPARE of our view's primary for the block we executed last (a relay, a late copy):
 * another digest is equivocation; complains (proven) and shows it once per block. */
void pbft_on_late_pre_prepare(struct pbft *b, const Stele__PbftSigned *s,
                              const Stele__PbftMessage *msg, size_t from);
/* Keeps the complaints about the view we run that we hold (the signed STATUS messages) for
 * the VIEW-CHANGEs of the view change we start now. */
void pbft_keep_complaints(struct pbft *b);
/* The complaints a VIEW-CHANGE for a later view than ours carries (`vc`, from a checked
 * VIEW-CHANGE): if a quorum of them, from distinct orderers, each signed by the orderer it
 * names, complain about the view we run, none is more than PBFT_STATUS_MAX_AGE_MS old or
 * PBFT_COMPLAINT_SKEW_MS ahead of our clock, and they lie within PBFT_PROOF_SPREAD_MS of one
 * another, they prove that a quorum complained within seconds of one another, and
 * pbft_count_complaints() makes us leave. Only while active. */
void pbft_take_complaints(struct pbft *b, const Stele__PbftViewChange *vc);
/* pbft_take_complaints() for every VIEW-CHANGE held for a view later than ours: those that
 * arrived while we were between views (a view just started). */
void pbft_take_held_complaints(struct pbft *b);
/* Serializes a complaining STATUS `s` as kept for VIEW-CHANGEs into `out` (cleared first):
 * its message and signature only. Returns STELE_OK, or STELE_ERR_LIMIT for one over
 * PBFT_COMPLAINT_MAX_BYTES (out left empty). */
int pbft_keep_status(const Stele__PbftSigned *s, struct buf *out);
/* Counts the complaints about the view we run: ours, each other orderer's fresh STATUS that
 * complains about it, and each orderer that sent a VIEW-CHANGE for a later view (it has left
 * ours); a quorum a VIEW-CHANGE proved (pbft_take_complaints) counts as a quorum. f+1 of them — at
 * least one correct — make us complain too; a quorum makes us start the view change, and then every
 * correct replica gets there: the quorum holds f+1 correct complainers, whose complaints (or
 * VIEW-CHANGEs) reach every correct replica, which joins. */
void pbft_count_complaints(struct pbft *b);
void pbft_on_view_change(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                         size_t from);
void pbft_on_new_view(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                      size_t from);
/* Timer work: NEW-VIEW wait expiry, VIEW-CHANGE resend. */
void pbft_view_tick(struct pbft *b, uint64_t now);
/* After state transfer: handles a NEW-VIEW's PRE-PREPARE that waited for it. */
void pbft_after_sync(struct pbft *b);
/* The new primary's own re-proposal `o` (opened: `msg`, for the next block) becomes the slot's
 * PRE-PREPARE as it was signed. The caller persists. */
void pbft_slot_take_own(struct pbft *b, const Stele__PbftSigned *o, const Stele__PbftMessage *msg);

/* ---- pbft_net.c ---- */
int pbft_links_start(struct pbft *b);
void pbft_links_stop(struct pbft *b);
/* Queues signed bytes for member `to` (never blocks; drops the oldest when full). */
void pbft_link_send(struct pbft *b, size_t to, const uint8_t *data, size_t len);
int pbft_attach(void *state, struct rpc_server *server);
/* Asks the sync thread to fetch blocks up to `target` (caller holds mu). */
void pbft_want_sync(struct pbft *b, uint64_t target);
int pbft_sync_start(struct pbft *b);
void pbft_sync_stop(struct pbft *b);

/* ---- pbft_persist.c (caller holds mu) ---- */
/* Writes view, activity, the slot's votes and prepared proof, and our VIEW-CHANGE. */
int pbft_persist(struct pbft *b);
/* Reads them back at start (no valid file = fresh). */
int pbft_restore(struct pbft *b);
/* Closes the state files. */
void pbft_persist_close(struct pbft *b);

#endif
