using Suiron.Gguf;

namespace Suiron.Tokenization;

/// <summary>Token type, as GGUF's <c>tokenizer.ggml.token_type</c> numbers them (the raw value from the file).</summary>
public enum TokenKind
{
    /// <summary>No type given.</summary>
    Undefined = 0,
    /// <summary>An ordinary text token.</summary>
    Normal = 1,
    /// <summary>The unknown token.</summary>
    Unknown = 2,
    /// <summary>A control token (BOS, EOS, chat markers).</summary>
    Control = 3,
    /// <summary>A token added by the model's authors, matched as a whole.</summary>
    UserDefined = 4,
    /// <summary>A reserved, unused token.</summary>
    Unused = 5,
    /// <summary>A byte-fallback token (<c>&lt;0xNN&gt;</c>).</summary>
    Byte = 6,
}

/// <summary>
/// Token attributes as llama.cpp keeps them (<c>llama_token_attr</c>): the GGUF token type, corrected by llama.cpp's
/// load-time fix-ups (end-of-turn texts become Control, "unused" control tokens get Unused, Phi-3 special tokens
/// strip whitespace to their right …). The tokenizers decide from these, never from <see cref="TokenKind"/>.
/// </summary>
[Flags]
public enum TokenAttributes
{
    /// <summary>No attribute.</summary>
    Undefined = 0,
    /// <summary>The unknown token.</summary>
    Unknown = 1 << 0,
    /// <summary>A reserved, unused token.</summary>
    Unused = 1 << 1,
    /// <summary>An ordinary text token.</summary>
    Normal = 1 << 2,
    /// <summary>A control token.</summary>
    Control = 1 << 3,
    /// <summary>A user-defined token.</summary>
    UserDefined = 1 << 4,
    /// <summary>A byte-fallback token.</summary>
    Byte = 1 << 5,
    /// <summary>Matched after normalization.</summary>
    Normalized = 1 << 6,
    /// <summary>When the token is split out of the text, whitespace to its left is dropped.</summary>
    LeftStrip = 1 << 7,
    /// <summary>When the token is split out of the text, whitespace to its right is dropped.</summary>
    RightStrip = 1 << 8,
    /// <summary>Matched only as a whole word.</summary>
    SingleWord = 1 << 9,
}

/// <summary>The tokenizer family named by <c>tokenizer.ggml.model</c>.</summary>
public enum TokenizerModel
{
    /// <summary>No tokenizer (<c>tokenizer.ggml.model</c> "none").</summary>
    None,
    /// <summary>"llama": SentencePiece BPE with scores and byte fallback.</summary>
    SentencePiece,
    /// <summary>"gpt2": byte-level BPE with merges and a regex pre-tokenizer.</summary>
    BytePairEncoding,
    /// <summary>"bert": WordPiece.</summary>
    WordPiece,
}

/// <summary>Everything the GGUF says about the vocabulary, parsed once, with llama.cpp's defaults and fix-ups applied.</summary>
public sealed class Vocabulary
{
    /// <summary>The tokenizer family.</summary>
    public required TokenizerModel Model { get; init; }
    /// <summary><c>tokenizer.ggml.pre</c> ("default" when absent).</summary>
    public required string PreTokenizer { get; init; }
    /// <summary>Token texts, by id.</summary>
    public required string[] Tokens { get; init; }
    /// <summary>Token scores, by id (SentencePiece merge priority); zeros when the file has none.</summary>
    public required float[] Scores { get; init; }
    /// <summary>Token types as stored in the file. Use <see cref="Attributes"/> for decisions.</summary>
    public required TokenKind[] Kinds { get; init; }
    /// <summary>BPE merges, "left right" per entry, in priority order (empty for other models).</summary>
    public required string[] Merges { get; init; }

    private TokenAttributes[]? _attributes;

    /// <summary>Per-token attributes (llama.cpp's <c>llama_token_attr</c>); derived from <see cref="Kinds"/> when not given.</summary>
    public TokenAttributes[] Attributes
    {
        get => _attributes ??= System.Array.ConvertAll(Kinds, AttributesOf);
        init => _attributes = value;
    }

    /// <summary>Beginning-of-sequence token id, or -1 when there is none.</summary>
    public int BosId { get; init; } = -1;
    /// <summary>End-of-sequence token id, or -1 when there is none.</summary>
    public int EosId { get; init; } = -1;
    /// <summary>End of turn (e.g. &lt;|eot_id|&gt;, &lt;|im_end|&gt;), -1 if none.</summary>
    public int EotId { get; init; } = -1;
    /// <summary>End-of-message token id, or -1 when there is none.</summary>
    public int EomId { get; init; } = -1;
    /// <summary>Unknown-token id, or -1 when there is none.</summary>
    public int UnknownId { get; init; } = -1;
    /// <summary>Separator token id, or -1 when there is none.</summary>
    public int SeparatorId { get; init; } = -1;
    /// <summary>Padding token id, or -1 when there is none.</summary>
    public int PaddingId { get; init; } = -1;
    /// <summary>Mask token id, or -1 when there is none.</summary>
    public int MaskId { get; init; } = -1;
    /// <summary>Fill-in-the-middle prefix token id, or -1 when there is none.</summary>
    public int FimPrefixId { get; init; } = -1;
    /// <summary>Fill-in-the-middle suffix token id, or -1 when there is none.</summary>
    public int FimSuffixId { get; init; } = -1;
    /// <summary>Fill-in-the-middle middle token id, or -1 when there is none.</summary>
    public int FimMiddleId { get; init; } = -1;
    /// <summary>Fill-in-the-middle padding token id, or -1 when there is none.</summary>
    public int FimPadId { get; init; } = -1;
    /// <summary>Fill-in-the-middle repository token id, or -1 when there is none.</summary>
    public int FimRepoId { get; init; } = -1;
    /// <summary>Fill-in-the-middle file separator token id, or -1 when there is none.</summary>
    public int FimSeparatorId { get; init; } = -1;
    /// <summary>Whether encoding adds BOS first (<c>tokenizer.ggml.add_bos_token</c>).</summary>
    public bool AddBos { get; init; }
    /// <summary>Whether encoding adds EOS last (<c>tokenizer.ggml.add_eos_token</c>).</summary>
    public bool AddEos { get; init; }
    /// <summary><c>tokenizer.ggml.add_sep_token</c> (BERT-style pairs; the WordPiece tokenizer ends with SEP regardless).</summary>
    public bool AddSeparator { get; init; }
    /// <summary>SentencePiece: prepend a space (▁) to the text before encoding, and drop it again when decoding.</summary>
    public bool AddSpacePrefix { get; init; } = true;
    /// <summary>
    /// Detokenizer clean-up as llama.cpp's <c>clean_spaces</c>: drop the space before <c>? ! . ,</c>, around a lone
    /// apostrophe and before <c>'s 'm 're 've</c>. On for WordPiece and most byte-level BPE pre-tokenizers.
    /// </summary>
    public bool CleanSpaces { get; init; }
    /// <summary>BPE: a pre-tokenized word that is itself a token is emitted whole, without merges (llama3-style).</summary>
    public bool IgnoreMerges { get; init; }
    /// <summary>WordPiece normalizer: lowercase (<c>tokenizer.ggml.normalizer.lowercase</c>, default true).</summary>
    public bool Lowercase { get; init; } = true;
    /// <summary>WordPiece normalizer: NFD and drop combining marks (<c>tokenizer.ggml.normalizer.strip_accents</c>, default = lowercase).</summary>
    public bool StripAccents { get; init; } = true;

    /// <summary>Tokens in the vocabulary.</summary>
    public int Count => Tokens.Length;

    /// <summary>Token ids that end generation: EOS, EOT, EOM, FIM pad/repo/separator and the end-of-turn texts llama.cpp knows.</summary>
    public IReadOnlySet<int> EndOfGeneration { get; init; } = new HashSet<int>();

    /// <summary>Whether <paramref name="id"/> ends generation (EOS, EOT, EOM and the like).</summary>
    public bool IsEndOfGeneration(int id) => EndOfGeneration.Contains(id);
    /// <summary>Whether <paramref name="id"/> is a control token.</summary>
    public bool IsControl(int id) => (uint)id < (uint)Count && (Attributes[id] & TokenAttributes.Control) != 0;

    private int _maxTokenLength = -1;

    /// <summary>Length of the longest token text in UTF-16 code units.</summary>
    public int MaxTokenLength
    {
        get
        {
            if (_maxTokenLength < 0)
            {
                int max = 0;
                foreach (string t in Tokens) max = Math.Max(max, t.Length);
                _maxTokenLength = max;
            }
            return _maxTokenLength;
        }
    }

    /// <summary>Text → id with a span view of the same dictionary; one reference, so lazy creation is race-free.</summary>
    private sealed class IdIndex(Dictionary<string, int> ids)
    {
        public readonly Dictionary<string, int> Ids = ids;
        public readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> Spans = ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    private IdIndex? _index;

    private IdIndex Index => _index ??= new IdIndex(BuildIds(Tokens));

    private static Dictionary<string, int> BuildIds(string[] tokens)
    {
        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) ids.TryAdd(tokens[i], i);
        return ids;
    }

    /// <summary>Token text → id (first occurrence wins; llama.cpp refuses vocabularies with duplicates).</summary>
    public IReadOnlyDictionary<string, int> Ids => Index.Ids;

    /// <summary>Looks a token up by its text without allocating.</summary>
    public bool TryGetId(ReadOnlySpan<char> text, out int id) => Index.Spans.TryGetValue(text, out id);

    /// <summary>The id of a token text, or -1.</summary>
    public int IdOf(ReadOnlySpan<char> text) => TryGetId(text, out int id) ? id : -1;

    /// <summary>The attributes a token of <paramref name="kind"/> starts with, before llama.cpp's fix-ups.</summary>
    public static TokenAttributes AttributesOf(TokenKind kind) => kind switch
    {
        TokenKind.Unknown => TokenAttributes.Unknown,
        TokenKind.Unused => TokenAttributes.Unused,
        TokenKind.Normal => TokenAttributes.Normal,
        TokenKind.Control => TokenAttributes.Control,
        TokenKind.UserDefined => TokenAttributes.UserDefined,
        TokenKind.Byte => TokenAttributes.Byte,
        _ => TokenAttributes.Undefined,
    };

    /// <summary>The vocabulary <paramref name="file"/>'s <c>tokenizer.ggml.*</c> keys describe.</summary>
    public static Vocabulary FromGguf(GgufFile file)
    {
        string modelName = file.GetStringOrNull("tokenizer.ggml.model") ?? "none";
        TokenizerModel model = modelName switch
        {
            "llama" => TokenizerModel.SentencePiece,
            "gpt2" => TokenizerModel.BytePairEncoding,
            "bert" => TokenizerModel.WordPiece,
            "no_vocab" or "none" => TokenizerModel.None,
            _ => throw new GgufException($"Unsupported tokenizer model '{modelName}' (tokenizer.ggml.model); supported: llama, gpt2, bert", -1, file.Path),
        };
        if (model == TokenizerModel.None)
            throw new GgufException("The model has no vocabulary (tokenizer.ggml.model is 'none')", -1, file.Path);

        string[] tokens = Array("tokenizer.ggml.tokens", file, v => v.AsArray<string>());
        int n = tokens.Length;
        if (n == 0) throw new GgufException("The vocabulary is empty (tokenizer.ggml.tokens has no tokens)", -1, file.Path);
        float[] scores = OptionalArray("tokenizer.ggml.scores", file, v => v.AsFloatArray()) ?? new float[n];
        int[] types = OptionalArray("tokenizer.ggml.token_type", file, v => v.AsInt32Array()) ?? Enumerable.Repeat((int)TokenKind.Normal, n).ToArray();
        string[] merges = OptionalArray("tokenizer.ggml.merges", file, v => v.AsArray<string>()) ?? [];
        if (scores.Length < n || types.Length < n)
            throw new GgufException($"Vocabulary arrays disagree: {n} tokens, {scores.Length} scores, {types.Length} token types", -1, file.Path);
        if (model == TokenizerModel.BytePairEncoding && merges.Length == 0)
            throw new GgufException("BPE vocabulary has no merges (tokenizer.ggml.merges)", -1, file.Path);

        // llama.cpp renames empty tokens so that every text maps to one id.
        tokens = (string[])tokens.Clone();
        for (int i = 0; i < n; i++) if (tokens[i].Length == 0) tokens[i] = $"[EMPTY_{i}]";
        if (scores.Length > n) scores = scores[..n];

        var kinds = new TokenKind[n];
        for (int i = 0; i < n; i++) kinds[i] = types[i] is >= 0 and <= 6 ? (TokenKind)types[i] : TokenKind.Undefined;
        var attributes = System.Array.ConvertAll(kinds, AttributesOf);

        string pre = file.GetStringOrNull("tokenizer.ggml.pre") ?? "default";
        var defaults = ModelDefaults.For(model, pre);

        // A default id outside the vocabulary means none; a stored id outside it keeps the default (as llama.cpp does).
        int Id(string key, int fallback)
        {
            if (fallback >= n) fallback = -1;
            if (!file.TryGetValue(key, out var value)) return fallback;
            long id;
            try { id = value.AsInt64(); }
            catch (Exception e) when (e is InvalidCastException or OverflowException) { return fallback; }
            return id >= 0 && id < n ? (int)id : fallback;
        }

        int bos = Id("tokenizer.ggml.bos_token_id", defaults.Bos);
        int eos = Id("tokenizer.ggml.eos_token_id", defaults.Eos);
        int eot = Id("tokenizer.ggml.eot_token_id", -1);
        int eom = Id("tokenizer.ggml.eom_token_id", -1);
        int unk = Id("tokenizer.ggml.unknown_token_id", defaults.Unknown);
        int sep = Id("tokenizer.ggml.seperator_token_id", defaults.Separator);
        int pad = Id("tokenizer.ggml.padding_token_id", defaults.Padding);
        int mask = Id("tokenizer.ggml.mask_token_id", defaults.Mask);
        int fimPre = Id("tokenizer.ggml.fim_pre_token_id", Id("tokenizer.ggml.prefix_token_id", -1));
        int fimSuf = Id("tokenizer.ggml.fim_suf_token_id", Id("tokenizer.ggml.suffix_token_id", -1));
        int fimMid = Id("tokenizer.ggml.fim_mid_token_id", Id("tokenizer.ggml.middle_token_id", -1));
        int fimPad = Id("tokenizer.ggml.fim_pad_token_id", -1);
        int fimRep = Id("tokenizer.ggml.fim_rep_token_id", -1);
        int fimSep = Id("tokenizer.ggml.fim_sep_token_id", -1);

        // Text → id, first occurrence winning; the fix-ups below look tokens up by text.
        var ids = BuildIds(tokens);

        void MarkControl(int id) => attributes[id] |= TokenAttributes.Control;

        // Auto-detection by text, as llama.cpp does until converters write these ids. Ties go to the lowest id.
        int Detect(int current, string[] texts)
        {
            if (current >= 0) return current;
            int found = -1;
            foreach (string t in texts)
                if (ids.TryGetValue(t, out int id) && (found < 0 || id < found)) found = id;
            if (found >= 0) MarkControl(found);
            return found;
        }
        eot = Detect(eot, EndOfTurnTexts);
        eom = Detect(eom, ["<|eom_id|>"]);
        fimPre = Detect(fimPre, ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"]);
        fimSuf = Detect(fimSuf, ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"]);
        fimMid = Detect(fimMid, ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"]);
        fimPad = Detect(fimPad, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]);
        fimRep = Detect(fimRep, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]);
        fimSep = Detect(fimSep, ["<|file_sep|>"]);

        // Control tokens named "unused…" are unused.
        for (int i = 0; i < n; i++)
            if ((attributes[i] & TokenAttributes.Control) != 0 && tokens[i].Contains("unused", StringComparison.Ordinal))
                attributes[i] |= TokenAttributes.Unused;

        var endOfGeneration = new HashSet<int>();
        foreach (int id in (int[])[fimPad, fimRep, fimSep]) if (id >= 0) endOfGeneration.Add(id);
        foreach (string t in EndOfGenerationTexts)
        {
            if (!ids.TryGetValue(t, out int id)) continue;
            endOfGeneration.Add(id);
            MarkControl(id);
        }
        // gpt-oss: these structure tokens are always rendered.
        foreach (string t in (string[])["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"])
            if (ids.TryGetValue(t, out int id)) attributes[id] = TokenAttributes.UserDefined;
        foreach (int id in (int[])[eos, eot, eom]) if (id >= 0) endOfGeneration.Add(id);

        // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
        bool HasEog(string text) => ids.TryGetValue(text, out int id) && endOfGeneration.Contains(id);
        if (HasEog("<|end|>") && ((HasEog("<|return|>") && (HasEog("<|call|>") || HasEog("<|calls|>"))) ||
                                  ((HasEog("<|call|>") || HasEog("<|calls|>")) && HasEog("<|flush|>"))))
        {
            int end = ids["<|end|>"];
            endOfGeneration.Remove(end);
            attributes[end] = TokenAttributes.UserDefined;
        }
        // gemma4 / paddleocr: "</s>" is an ordinary token there.
        if (HasEog("<|tool_response>") && HasEog("</s>"))
        {
            int s = ids["</s>"];
            endOfGeneration.Remove(s);
            attributes[s] = TokenAttributes.Normal;
        }

        // Per-model strip attributes (llama.cpp keys these on names until GGUF carries them).
        string name = (file.GetStringOrNull("general.name") ?? "").ToLowerInvariant();
        string architecture = file.GetStringOrNull("general.architecture") ?? "";
        if (pre is "jina-v2-de" or "jina-v2-es" or "jina-v2-code" || architecture.Contains("nomic-bert-moe") || architecture.Contains("jina-bert-v3"))
        {
            if (ids.TryGetValue("<mask>", out int id)) attributes[id] |= TokenAttributes.LeftStrip;
        }
        else if (name.Contains("phi-3") || name.Contains("phi3"))
        {
            for (int i = 0; i < n; i++)
                if ((attributes[i] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0)
                    attributes[i] |= TokenAttributes.RightStrip;
            if (ids.TryGetValue("</s>", out int eosText)) attributes[eosText] |= TokenAttributes.RightStrip;
            foreach (string t in (string[])["<unk>", "<s>", "<|endoftext|>"])
                if (ids.TryGetValue(t, out int id)) attributes[id] &= ~TokenAttributes.RightStrip;
        }
        else if (name.Contains("modern-bert"))
        {
            if (ids.TryGetValue("[MASK]", out int id)) attributes[id] |= TokenAttributes.LeftStrip;
        }

        bool lowercase = file.GetBool("tokenizer.ggml.normalizer.lowercase", true);

        return new Vocabulary
        {
            Model = model,
            PreTokenizer = pre,
            Tokens = tokens,
            Scores = scores,
            Kinds = kinds,
            Attributes = attributes,
            Merges = merges,
            BosId = bos,
            EosId = eos,
            EotId = eot,
            EomId = eom,
            UnknownId = unk,
            SeparatorId = sep,
            PaddingId = pad,
            MaskId = mask,
            FimPrefixId = fimPre,
            FimSuffixId = fimSuf,
            FimMiddleId = fimMid,
            FimPadId = fimPad,
            FimRepoId = fimRep,
            FimSeparatorId = fimSep,
            AddBos = file.GetBool("tokenizer.ggml.add_bos_token", defaults.AddBos),
            AddEos = file.GetBool("tokenizer.ggml.add_eos_token", defaults.AddEos),
            AddSeparator = file.GetBool("tokenizer.ggml.add_sep_token", defaults.AddSeparator),
            AddSpacePrefix = file.GetBool("tokenizer.ggml.add_space_prefix", defaults.AddSpacePrefix),
            CleanSpaces = defaults.CleanSpaces,
            IgnoreMerges = defaults.IgnoreMerges,
            Lowercase = lowercase,
            StripAccents = file.GetBool("tokenizer.ggml.normalizer.strip_accents", lowercase),
            EndOfGeneration = endOfGeneration,
            _index = new IdIndex(ids),
        };
    }

    /// <summary>llama.cpp's defaults per tokenizer model (and, for BPE, per pre-tokenizer), before the GGUF overrides them.</summary>
    private readonly record struct ModelDefaults(
        int Bos, int Eos, int Unknown, int Separator, int Padding, int Mask,
        bool AddBos, bool AddEos, bool AddSeparator, bool AddSpacePrefix, bool CleanSpaces, bool IgnoreMerges)
    {
        public static ModelDefaults For(TokenizerModel model, string pre) => model switch
        {
            TokenizerModel.SentencePiece => new(1, 2, 0, -1, -1, -1,
                AddBos: true, AddEos: false, AddSeparator: false, AddSpacePrefix: true, CleanSpaces: false, IgnoreMerges: false),
            TokenizerModel.WordPiece => new(101, -1, 100, 102, 0, 103,
                AddBos: true, AddEos: false, AddSeparator: true, AddSpacePrefix: false, CleanSpaces: true, IgnoreMerges: false),
            _ => new(pre is "glm4" or "chatglm-bpe" ? -1 : 11, 11, -1, -1, -1, -1,
                AddBos: BpeAddsBos.Contains(pre), AddEos: false, AddSeparator: pre is "jina-v1-en" or "jina-v2-code" or "roberta-bpe",
                AddSpacePrefix: false, CleanSpaces: !BpeKeepsSpaces.Contains(pre), IgnoreMerges: BpeIgnoresMerges.Contains(pre)),
        };
    }

    private static readonly HashSet<string> BpeAddsBos =
        ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano", "tekken", "chameleon"];

    private static readonly HashSet<string> BpeIgnoresMerges =
        ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
         "minicpm5", "youtu", "tekken", "granite-embed-multi-97m"];

    /// <summary>BPE pre-tokenizers for which llama.cpp turns <c>clean_spaces</c> off.</summary>
    private static readonly HashSet<string> BpeKeepsSpaces =
        ["deepseek-llm", "deepseek-coder", "deepseek-v3", "spark2_5", "youtu", "sarvam-moe", "command-r", "qwen2",
         "deepseek-r1-qwen", "kormo", "f2llmv2", "qwen35", "poro-chat", "viking", "tekken", "smollm", "chameleon",
         "gpt-4o", "llama4", "kanana2", "talkie", "granite-embed-multi-97m", "tiny_aya", "cohere2moe", "superbpe",
         "trillion", "granite-docling", "bailingmoe", "bailingmoe2", "llada-moe", "seed-coder", "hunyuan",
         "hunyuan-dense", "hy_v4", "joyai-llm", "kimi-k2", "ufakzeka", "grok-2", "afmoe", "laguna", "minimax-m2", "solar-open"];

    /// <summary>Texts llama.cpp takes as the end-of-turn token when the GGUF names none.</summary>
    private static readonly string[] EndOfTurnTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
        "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ];

    /// <summary>Texts llama.cpp treats as end of generation (and forces to control tokens).</summary>
    private static readonly string[] EndOfGenerationTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ];

    private static T[] Array<T>(string key, GgufFile file, Func<GgufValue, T[]> read) =>
        OptionalArray(key, file, read) ?? throw new GgufException($"Missing required metadata key '{key}'", -1, file.Path);

    private static T[]? OptionalArray<T>(string key, GgufFile file, Func<GgufValue, T[]> read)
    {
        if (!file.TryGetValue(key, out var v)) return null;
        try { return read(v); }
        catch (Exception e) when (e is InvalidCastException or OverflowException)
        {
            throw new GgufException($"Metadata key '{key}' has the wrong type: {e.Message}", -1, file.Path);
        }
    }
}
