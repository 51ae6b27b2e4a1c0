/* peer_cmds.h — the `stele` commands that read a peer's ledger (peer_cmds.c, events_cmds.c,
 * audit_cmd.c). Each takes argc/argv from its own name on and returns the exit status. */
#ifndef STELE_TOOLS_PEER_CMDS_H
#define STELE_TOOLS_PEER_CMDS_H

/* stele tx get TX_ID */
int cmd_tx(int argc, char **argv);

/* stele state get NS KEY | range NS [START [END]] */
int cmd_state(int argc, char **argv);

/* stele history NS KEY */
int cmd_history(int argc, char **argv);

/* stele events [--from N] [--to N] [--chaincode NAME] */
int cmd_events(int argc, char **argv);

/* stele audit */
int cmd_audit(int argc, char **argv);

/* stele invoke CC FN [ARG...] / stele query CC FN [ARG...] (invoke_cmds.c) */
int cmd_invoke(int argc, char **argv);
int cmd_submit(int argc, char **argv); /* invoke_cmds.c */
int cmd_query(int argc, char **argv);

/* stele chaincode package|install|approve|commit|list (chaincode_cmds.c) */
int cmd_chaincode(int argc, char **argv);
int cmd_crl(int argc, char **argv); /* crl_cmd.c */

/* stele chain info --peer HOST:PORT | --all-peers (argv from "chain" on). */
int peer_chain_info(int argc, char **argv);

/* stele block get N --peer HOST:PORT (argv from "block" on). */
int peer_block_get(int argc, char **argv);

#endif
