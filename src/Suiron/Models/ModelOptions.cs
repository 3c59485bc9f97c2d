using Suiron.Inference;

namespace Suiron.Models;

/// <summary>How to run a model: threads, context and cache precision. Architecture choices come from the file.</summary>
public sealed record ModelOptions
{
    /// <summary>Upper bound of the context a model gets when <see cref="ContextSize"/> is 0: trained contexts of 128K
    /// tokens would otherwise reserve gigabytes of cache for a chat that uses a few thousand.</summary>
    public const int DefaultContextCap = 4096;

    /// <summary>Threads for the forward pass.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Tokens of context; 0 means the model's trained context, capped to <see cref="DefaultContextCap"/>.</summary>
    public int ContextSize { get; init; }

    /// <summary>Sets the key and the value cache type together (reading it gives <see cref="KeyCacheType"/>).</summary>
    public KvCacheType CacheType
    {
        get => KeyCacheType;
        init
        {
            KeyCacheType = value;
            ValueCacheType = value;
        }
    }

    /// <summary>Element type of cached keys (llama.cpp's <c>--cache-type-k</c>); F16 by default.</summary>
    public KvCacheType KeyCacheType { get; init; } = KvCacheType.F16;

    /// <summary>Element type of cached values (llama.cpp's <c>--cache-type-v</c>); F16 by default.</summary>
    public KvCacheType ValueCacheType { get; init; } = KvCacheType.F16;

    /// <summary>
    /// Rotates queries and keys (and values) by a Hadamard matrix before a quantized cache stores them, as llama.cpp does
    /// by default since ggml-org/llama.cpp#21038 (see <see cref="Models.AttentionRotation"/> for exactly when): less
    /// quantization error at the same cache size, for n·log n additions per head. F16/F32 caches are never rotated.
    /// On by default unless the environment sets llama.cpp's switch <c>LLAMA_ATTN_ROT_DISABLE</c> to a non-zero number.
    /// </summary>
    public bool AttentionRotation { get; init; } = !AttentionRotationDisabledByEnvironment;

    /// <summary>
    /// Recurrent-state snapshots each sequence keeps for prefix reuse in hybrid models (Qwen3-Next, Qwen3.5): a
    /// recurrent layer can only go back to a position where its state was saved. Each costs the per-sequence state
    /// (<c>suiron info</c> prints it); llama-server's equivalent is <c>--ctx-checkpoints</c> (8 by default).
    /// </summary>
    public int RecurrentSnapshots { get; init; } = 4;

    /// <summary>Tests only: rotates keys in blocks of this many elements instead of llama.cpp's choice (0: llama.cpp's), to
    /// show that the choice matters.</summary>
    internal int KeyRotationBlock { get; init; }

    /// <summary>
    /// llama.cpp's <c>LLAMA_ATTN_ROT_DISABLE</c>: set to a number other than 0 it turns the rotation off (it reads the
    /// value with atoi, so a leading integer counts and anything else is 0).
    /// </summary>
    internal static bool AttentionRotationDisabledByEnvironment => LeadingInteger(Environment.GetEnvironmentVariable("LLAMA_ATTN_ROT_DISABLE")) != 0;

    /// <summary>C's atoi: optional whitespace and sign, then digits; 0 when there are none.</summary>
    internal static long LeadingInteger(string? text)
    {
        if (text is null) return 0;
        int i = 0;
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        bool negative = i < text.Length && text[i] == '-';
        if (i < text.Length && text[i] is '-' or '+') i++;
        long value = 0;
        for (; i < text.Length && char.IsAsciiDigit(text[i]) && value < int.MaxValue; i++) value = value * 10 + (text[i] - '0');
        return negative ? -value : value;
    }

    /// <summary>
    /// Refuses a Q8_0 key or value cache for heads whose length is not a multiple of Q8_0's 32-element block (a block
    /// would straddle two heads; llama.cpp refuses the same), naming the option to change.
    /// </summary>
    internal void CheckCacheTypes(int keyLength, int valueLength)
    {
        if (KeyCacheType == KvCacheType.Q8_0 && keyLength % 32 != 0)
            throw new NotSupportedException(
                $"--cache-type-k q8_0 needs a key head length that is a multiple of 32; this model's is {keyLength}. Use f16 or f32.");
        if (ValueCacheType == KvCacheType.Q8_0 && valueLength % 32 != 0)
            throw new NotSupportedException(
                $"--cache-type-v q8_0 needs a value head length that is a multiple of 32; this model's is {valueLength}. Use f16 or f32.");
    }
}
