namespace Suiron.Tokenization;

/// <summary>
/// How one <c>tokenizer.ggml.pre</c> value pre-tokenizes and what it changes in the vocabulary's defaults,
/// as llama.cpp's vocabulary loader and <c>llm_tokenizer_bpe</c> define it.
/// </summary>
/// <param name="Name">The canonical pre-tokenizer family (llama.cpp's LLAMA_VOCAB_PRE_TYPE_*, lower-case).</param>
/// <param name="Patterns">Regexes applied in turn: each one splits every piece the previous ones produced.</param>
/// <param name="IgnoreMerges">A word that is a whole vocabulary token is emitted as that token before any merge (Llama 3, Tekken).</param>
/// <param name="CleanSpaces">clean_up_tokenization_spaces when detokenizing (llama.cpp's clean_spaces).</param>
/// <param name="AddBos">The add_bos default when the GGUF has no tokenizer.ggml.add_bos_token (null: false, as for every BPE vocabulary).</param>
/// <param name="NoBosToken">llama.cpp clears the BOS id default for this family (ChatGLM/GLM-4); a GGUF bos_token_id still wins.</param>
internal sealed record PreTokenizerSpec(
    string Name,
    string[] Patterns,
    bool IgnoreMerges = false,
    bool CleanSpaces = true,
    bool? AddBos = null,
    bool NoBosToken = false);

/// <summary>The pre-tokenizer table, keyed by every <c>tokenizer.ggml.pre</c> value llama.cpp accepts for byte-level BPE.</summary>
internal static class PreTokenizers
{
    // The regexes are llama.cpp's, character for character: its splitter picks hand-written fast paths by exact string
    // comparison (Gpt2 and Llama3 below), and it rewrites \p{..} classes for the std::regex fallback (RegexPreTokenizer).

    /// <summary>GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) — note: no trailing |\s+.</summary>
    public const string Gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

    /// <summary>Llama 3 with the case-insensitive group spelled out (std::regex has no (?i:)).</summary>
    public const string Llama3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /// <summary>Llama 3 as tokenizer.json writes it; llama.cpp routes it to the same fast path.</summary>
    public const string Llama3Original = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /// <summary>
    /// Kimi-K2: llama.cpp keys its hand-written splitter (RegexPreTokenizer's KimiK2Scanner) on this first alternative of
    /// Moonshot's pattern alone.
    /// </summary>
    public const string KimiK2 = "\\p{Han}+";

    private const string Contractions = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

    private const string Qwen2 = Contractions + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private const string Qwen35 = Contractions + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private const string Jais2 = Contractions + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}";

    private static readonly string[] DeepSeekLlm =
    [
        "[\r\n]",
        // Escaped on purpose: the class holds code points that Unicode normalization would silently change
        // (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126 OHM SIGN, U+212A KELVIN SIGN), and a normalized copy has reversed ranges.
        "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
        "\\s+$",
        "[一-龥ࠀ-一가-퟿]+",
        "\\p{N}+",
    ];

    private static readonly string[] DeepSeekCoder =
    [
        "[\r\n]",
        "\\s?\\p{L}+",
        "\\s?\\p{P}+",
        "[一-龥ࠀ-一가-퟿]+",
        "\\p{N}",
    ];

    private static readonly string[] DeepSeekV3 =
    [
        "\\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ];

    private static readonly string[] Spark25 =
    [
        "\\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
        "\\p{N}",
    ];

    private static readonly string[] Youtu =
    [
        "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" + Contractions + "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" + Contractions + "?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ];

    private static readonly string[] Falcon =
    [
        "[\\p{P}\\$\\+<=>\\^~\\|`]+",
        Gpt2,
        "[0-9][0-9][0-9]",
    ];

    private static readonly string[] StarCoder = ["\\p{N}", Gpt2];

    private static readonly string[] Poro = [" ?[^(\\s|.,!?…。，、।۔،)]+"];

    private static readonly string[] Viking = [" ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}"];

    private const string Tekken = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static readonly string[] Chameleon =
    [
        "<sentinel:[0-9]+>",
        "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
        "([\\t\\n]|    |  )",
        "\\p{N}",
        "[\\p{P}!-/:-@\\[-`{-~]",
        Gpt2,
    ];

    private const string Gpt4o = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+" + Contractions + "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" + Contractions + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private const string GraniteEmbedMulti = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+" + Contractions + "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*" + Contractions + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static readonly string[] TinyAya =
    [
        "\\d{1,3}(?=(?:\\d{3})*\\b)",
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" + Contractions + "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" + Contractions + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ];

    private static readonly string[] SuperBpe = ["\\p{N}+", "(?=(\\d{3})+(?!\\d))"];

    private const string BailingMoe = "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";

    private const string SeedCoder = Contractions + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private const string Ufakzeka = "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static readonly string[] Laguna = ["[^\\n]+|[\\n]+", Qwen2];

    private const string ExaoneMoe = Contractions + "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";

    private static readonly string[] MiniCpm5 =
    [
        "\\p{N}{1,3}",
        Contractions + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ];

    /// <summary>What llama.cpp uses when tokenizer.ggml.pre is absent or "default" (old conversions, e.g. GPT-NeoX).</summary>
    private static readonly string[] Default =
    [
        "[\\p{P}\\$\\+<=>\\^~\\|]+",
        Gpt2,
        "\\p{N}+",
        "[0-9][0-9][0-9]",
    ];

    private static readonly Dictionary<string, PreTokenizerSpec> Table = Build();

    /// <summary>The spec for a <c>tokenizer.ggml.pre</c> value ("default" for a missing key).</summary>
    public static PreTokenizerSpec Get(string pre)
    {
        if (Table.TryGetValue(pre.Length == 0 ? "default" : pre, out var spec)) return spec;
        if (Unsupported.Contains(pre))
            throw new NotSupportedException($"Pre-tokenizer '{pre}' (tokenizer.ggml.pre) needs llama.cpp's hand-written splitter or raw-UTF-8 BPE, which Suiron does not implement yet.");
        throw new NotSupportedException($"Unknown pre-tokenizer '{pre}' (tokenizer.ggml.pre); known: {string.Join(", ", Table.Keys.Order())}.");
    }

    /// <summary>Every supported <c>tokenizer.ggml.pre</c> value.</summary>
    public static IEnumerable<string> Names => Table.Keys;

    private static readonly HashSet<string> Unsupported =
        ["afmoe", "gemma4", "granite-embed-multi-311m", "sarvam-moe", "whitespace"];

    private static Dictionary<string, PreTokenizerSpec> Build()
    {
        var table = new Dictionary<string, PreTokenizerSpec>(StringComparer.Ordinal);
        void Add(PreTokenizerSpec spec, params string[] names)
        {
            foreach (string name in names) table.Add(name, spec);
        }

        Add(new("default", Default), "default");
        Add(new("llama3", [Llama3], IgnoreMerges: true, AddBos: true),
            "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano");
        Add(new("minicpm5", MiniCpm5, IgnoreMerges: true), "minicpm5");
        Add(new("dbrx", [Llama3]), "dbrx");
        Add(new("smaug", [Llama3]), "smaug-bpe");
        Add(new("jais2", [Jais2]), "jais-2");
        Add(new("deepseek-llm", DeepSeekLlm, CleanSpaces: false), "deepseek-llm");
        Add(new("deepseek-coder", DeepSeekCoder, CleanSpaces: false), "deepseek-coder");
        Add(new("deepseek3-llm", DeepSeekV3, CleanSpaces: false), "deepseek-v3");
        Add(new("hunyuan-dense", DeepSeekV3, CleanSpaces: false), "hunyuan-dense");
        Add(new("hy-v4", DeepSeekV3, CleanSpaces: false), "hy_v4");
        Add(new("joyai-llm", DeepSeekV3, CleanSpaces: false), "joyai-llm");
        Add(new("spark2_5", Spark25, CleanSpaces: false), "spark2_5");
        Add(new("youtu", Youtu, IgnoreMerges: true, CleanSpaces: false), "youtu");
        Add(new("falcon", Falcon), "falcon");
        Add(new("mpt", [Gpt2]), "mpt");
        Add(new("starcoder", StarCoder), "starcoder");
        Add(new("refact", StarCoder), "refact");
        Add(new("command-r", StarCoder, CleanSpaces: false), "command-r");
        Add(new("smollm", StarCoder, CleanSpaces: false), "smollm");
        Add(new("codeshell", StarCoder), "codeshell");
        Add(new("exaone", StarCoder), "exaone");
        Add(new("minerva", StarCoder), "minerva-7b");
        Add(new("mellum2", StarCoder), "mellum2");
        Add(new("gpt2", [Gpt2]),
            "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
            "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4");
        Add(new("olmo", [Gpt2]), "olmo");
        Add(new("jais", [Gpt2]), "jais");
        Add(new("trillion", [Gpt2], CleanSpaces: false), "trillion");
        Add(new("granite-docling", [Gpt2], CleanSpaces: false), "granite-docling");
        Add(new("qwen2", [Qwen2], CleanSpaces: false), "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2");
        Add(new("qwen2", [Qwen2]), "megrez");
        Add(new("stablelm2", [Qwen2]), "stablelm2");
        Add(new("hunyuan", [Qwen2], CleanSpaces: false), "hunyuan");
        Add(new("solar-open", [Qwen2], CleanSpaces: false), "solar-open");
        Add(new("qwen35", [Qwen35], CleanSpaces: false), "qwen35");
        Add(new("poro", Poro, CleanSpaces: false), "poro-chat");
        Add(new("bloom", Poro), "bloom");
        Add(new("gpt3-finnish", Poro), "gpt3-finnish");
        Add(new("chatglm4", [Llama3], NoBosToken: true), "glm4", "chatglm-bpe");
        Add(new("viking", Viking, CleanSpaces: false), "viking");
        Add(new("tekken", [Tekken], IgnoreMerges: true, CleanSpaces: false, AddBos: true), "tekken");
        Add(new("chameleon", Chameleon, CleanSpaces: false, AddBos: true), "chameleon");
        Add(new("gpt4o", [Gpt4o], CleanSpaces: false), "gpt-4o", "llama4", "kanana2", "talkie");
        Add(new("minimax-m2", [Gpt4o], CleanSpaces: false), "minimax-m2");
        Add(new("kimi-k2", [KimiK2], CleanSpaces: false), "kimi-k2");
        Add(new("granite-emb-multi", [GraniteEmbedMulti], IgnoreMerges: true, CleanSpaces: false), "granite-embed-multi-97m");
        Add(new("tiny-aya", TinyAya, CleanSpaces: false), "tiny_aya", "cohere2moe");
        Add(new("superbpe", SuperBpe, CleanSpaces: false), "superbpe");
        Add(new("bailingmoe", [BailingMoe], CleanSpaces: false), "bailingmoe", "bailingmoe2", "llada-moe");
        Add(new("seed-coder", [SeedCoder], CleanSpaces: false), "seed-coder");
        Add(new("ufakzeka", [Ufakzeka], CleanSpaces: false), "ufakzeka");
        Add(new("grok-2", [Qwen2], CleanSpaces: false), "grok-2");
        Add(new("laguna", Laguna, CleanSpaces: false), "laguna");
        Add(new("exaone-moe", [ExaoneMoe]), "exaone-moe");
        return table;
    }
}
