// tokenizers_js_check.mjs - a manual cross-check, not run by ctest or CI (it needs Node.js and
// the npm package @huggingface/tokenizers, Hugging Face's JavaScript implementation of the
// tokenizers library): loads the tokenizer.json and tokenizer_config.json of a folder written
// by `calgae convert --to-hf` and tokenizes llama.cpp's vector file VOCAB.inp, comparing with
// VOCAB.out, and that decoding gives the text back. Usage, in a scratch folder (README, "Hugging
// Face folders and the Hub"):
//   npm install @huggingface/tokenizers@0.2.0 && cp REPO/tests/tokenizers_js_check.mjs .
//   node tokenizers_js_check.mjs DIR REPO/../shared/models/ggml-vocab-llama-bpe.gguf
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";

const [dir, vocab] = process.argv.slice(2);
const read = (f) => JSON.parse(fs.readFileSync(dir + "/" + f, "utf8"));
const tok = new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
const inp = fs.readFileSync(vocab + ".inp", "utf8").split("\n__ggml_vocab_test__\n");
const out = fs.readFileSync(vocab + ".out", "utf8").split("\n");
const bad = [];
for (let i = 0; i < inp.length - 1; i++) {
  const ids = tok.encode(inp[i], { add_special_tokens: false }).ids.join(" ");
  if (ids !== out[i].trim()) bad.push(i);
}
const text = "It's 2024: naïve café";
const back = tok.decode(tok.encode(text, { add_special_tokens: false }).ids);
console.log(`${dir}: ${inp.length - 1 - bad.length}/${inp.length - 1} vectors give llama.cpp's ids` +
            (bad.length ? ` (wrong: ${bad.slice(0, 5)})` : "") +
            `; with special tokens "Hello world" is [${tok.encode("Hello world").ids}]; ` +
            `decode(encode(text)) ${back === text ? "==" : "!="} text`);
process.exit(bad.length || back !== text ? 1 : 0);
