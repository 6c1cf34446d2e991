/*
 * cli.h - the subcommands of the calgae program (main.c dispatches to them).
 * Each command returns the process exit status: 0 success, 1 runtime failure (bad file,
 * bad model), 2 usage error (a bad flag, a bad configuration file, a backend asked for that
 * can't be used, an --out that is the input itself).
 */
#ifndef CALGAE_CLI_H
#define CALGAE_CLI_H

int calgae_cmd_run(int argc, char **argv);
int calgae_cmd_tokenize(int argc, char **argv);
int calgae_cmd_convert(int argc, char **argv);
int calgae_cmd_logits(int argc, char **argv);
/* `calgae backends [--config FILE] [--verbose]`; `calgae backends verify FILE.so` is passed on
 * to calgae_cmd_verify with argv[0] == "verify". */
int calgae_cmd_backends(int argc, char **argv);
int calgae_cmd_verify(int argc, char **argv);
int calgae_cmd_bench(int argc, char **argv);
int calgae_cmd_quantize(int argc, char **argv);
int calgae_cmd_perplexity(int argc, char **argv);
int calgae_cmd_distill(int argc, char **argv);
/* `calgae info --model M`: metadata, tensors, parameter count, bytes read per token. */
int calgae_cmd_info(int argc, char **argv);
/* `calgae chat`; also `calgae run -i` / `--interactive`, which calgae_run_wants_chat spots. */
int calgae_cmd_chat(int argc, char **argv);
int calgae_run_wants_chat(int argc, char **argv);
/* `calgae fetch-model ORG/NAME`: a Hugging Face Hub repository into huggingface_hub's cache. */
int calgae_cmd_fetch(int argc, char **argv);
/* `calgae agent exec FILE`: the code agent's pipeline on a saved answer (agent/). */
int calgae_cmd_agent(int argc, char **argv);

#endif
