using Suiron.Gguf;

namespace Suiron.Tokenization;

/// <summary>Token attribute, as GGUF's <c>tokenizer.ggml.token_type</c> numbers them.</summary>
public enum TokenKind
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>The tokenizer family named by <c>tokenizer.ggml.model</c>.</summary>
public enum TokenizerModel
{
    None,
    /// <summary>"llama": SentencePiece BPE with scores and byte fallback.</summary>
    SentencePiece,
    /// <summary>"gpt2": byte-level BPE with merges and a regex pre-tokenizer.</summary>
    BytePairEncoding,
    /// <summary>"bert": WordPiece.</summary>
    WordPiece,
}

/// <summary>Everything the GGUF says about the vocabulary, parsed once.</summary>
public sealed class Vocabulary
{
    public required TokenizerModel Model { get; init; }
    /// <summary><c>tokenizer.ggml.pre</c> ("default" when absent).</summary>
    public required string PreTokenizer { get; init; }
    public required string[] Tokens { get; init; }
    public required float[] Scores { get; init; }
    public required TokenKind[] Kinds { get; init; }
    /// <summary>BPE merges, "left right" per entry, in priority order (empty for other models).</summary>
    public required string[] Merges { get; init; }

    public int BosId { get; init; } = -1;
    public int EosId { get; init; } = -1;
    /// <summary>End of turn (e.g. &lt;|eot_id|&gt;, &lt;|im_end|&gt;), -1 if none.</summary>
    public int EotId { get; init; } = -1;
    public int EomId { get; init; } = -1;
    public int UnknownId { get; init; } = -1;
    public int SeparatorId { get; init; } = -1;
    public int PaddingId { get; init; } = -1;
    public int MaskId { get; init; } = -1;
    public bool AddBos { get; init; }
    public bool AddEos { get; init; }
    /// <summary>SentencePiece: prepend a space (▁) to the text before encoding.</summary>
    public bool AddSpacePrefix { get; init; } = true;

    public int Count => Tokens.Length;

    /// <summary>Token ids that end generation (EOS, EOT, EOM and other end-of-generation control tokens).</summary>
    public IReadOnlySet<int> EndOfGeneration { get; init; } = new HashSet<int>();

    public bool IsControl(int id) => (uint)id < (uint)Kinds.Length && Kinds[id] == TokenKind.Control;

    private Dictionary<string, int>? _ids;

    /// <summary>Token text → id (first occurrence wins, as in llama.cpp).</summary>
    public IReadOnlyDictionary<string, int> Ids
    {
        get
        {
            if (_ids is null)
            {
                var d = new Dictionary<string, int>(Tokens.Length, StringComparer.Ordinal);
                for (int i = 0; i < Tokens.Length; i++) d.TryAdd(Tokens[i], i);
                _ids = d;
            }
            return _ids;
        }
    }

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
        float[] scores = OptionalArray("tokenizer.ggml.scores", file, v => v.AsFloatArray()) ?? new float[n];
        int[] types = OptionalArray("tokenizer.ggml.token_type", file, v => v.AsInt32Array()) ?? Enumerable.Repeat((int)TokenKind.Normal, n).ToArray();
        string[] merges = OptionalArray("tokenizer.ggml.merges", file, v => v.AsArray<string>()) ?? [];
        if (scores.Length != n || types.Length != n)
            throw new GgufException($"Vocabulary arrays disagree: {n} tokens, {scores.Length} scores, {types.Length} token types", -1, file.Path);
        if (model == TokenizerModel.BytePairEncoding && merges.Length == 0)
            throw new GgufException("BPE vocabulary has no merges (tokenizer.ggml.merges)", -1, file.Path);

        int Id(string key, int fallback)
        {
            long id = file.GetInt64(key, fallback);
            // 0xFFFFFFFF (stored as uint32 -1) and out-of-range ids mean "none".
            return id >= 0 && id < n ? (int)id : -1;
        }

        bool isSpm = model == TokenizerModel.SentencePiece;
        int bos = Id("tokenizer.ggml.bos_token_id", isSpm ? 1 : -1);
        int eos = Id("tokenizer.ggml.eos_token_id", isSpm ? 2 : -1);
        int eot = Id("tokenizer.ggml.eot_token_id", -1);
        int eom = Id("tokenizer.ggml.eom_token_id", -1);
        var kinds = System.Array.ConvertAll(types, t => t is >= 0 and <= 6 ? (TokenKind)t : TokenKind.Normal);

        // As llama.cpp does: besides the declared EOS/EOT/EOM ids, well-known end-of-turn control tokens end generation.
        var endOfGeneration = new HashSet<int>();
        foreach (int id in (int[])[eos, eot, eom]) if (id >= 0) endOfGeneration.Add(id);
        for (int i = 0; i < n; i++)
            if (kinds[i] is TokenKind.Control or TokenKind.UserDefined && EndOfTurnTexts.Contains(tokens[i])) endOfGeneration.Add(i);

        return new Vocabulary
        {
            Model = model,
            PreTokenizer = file.GetStringOrNull("tokenizer.ggml.pre") ?? "default",
            Tokens = tokens,
            Scores = scores,
            Kinds = kinds,
            Merges = merges,
            BosId = bos,
            EosId = eos,
            EotId = eot,
            EomId = eom,
            UnknownId = Id("tokenizer.ggml.unknown_token_id", isSpm ? 0 : -1),
            SeparatorId = Id("tokenizer.ggml.seperator_token_id", -1),
            PaddingId = Id("tokenizer.ggml.padding_token_id", -1),
            MaskId = Id("tokenizer.ggml.mask_token_id", -1),
            AddBos = file.GetBool("tokenizer.ggml.add_bos_token", DefaultAddBos(model, file.GetStringOrNull("tokenizer.ggml.pre"))),
            AddEos = file.GetBool("tokenizer.ggml.add_eos_token", model == TokenizerModel.WordPiece),
            AddSpacePrefix = file.GetBool("tokenizer.ggml.add_space_prefix", isSpm),
            EndOfGeneration = endOfGeneration,
        };
    }

    private static readonly HashSet<string> EndOfTurnTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
        "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<|return|>", "<|call|>", "<|user|>", "<|observation|>",
    ];

    private static bool DefaultAddBos(TokenizerModel model, string? pre) => model switch
    {
        TokenizerModel.SentencePiece => true,
        TokenizerModel.WordPiece => true,
        _ => false,
    };

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
