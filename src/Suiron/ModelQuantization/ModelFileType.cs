using Suiron.Tensors;

namespace Suiron.ModelQuantization;

/// <summary>
/// What a whole model file is quantized to: llama.cpp's <c>llama_ftype</c>, with its numbers, which GGUF stores as
/// <c>general.file_type</c>. A mixture (the <c>_S/_M/_L</c> k-quants) names a default tensor type plus per-tensor exceptions.
/// </summary>
public enum ModelFileType : uint
{
    /// <summary>Every tensor F32.</summary>
    F32 = 0,
    /// <summary>Every quantizable tensor F16.</summary>
    F16 = 1,
    /// <summary>Q4_0.</summary>
    Q4_0 = 2,
    /// <summary>Q4_1.</summary>
    Q4_1 = 3,
    /// <summary>Q8_0.</summary>
    Q8_0 = 7,
    /// <summary>Q5_0.</summary>
    Q5_0 = 8,
    /// <summary>Q5_1.</summary>
    Q5_1 = 9,
    /// <summary>Q2_K mixture.</summary>
    Q2_K = 10,
    /// <summary>Q3_K, small mixture.</summary>
    Q3_K_S = 11,
    /// <summary>Q3_K, medium mixture.</summary>
    Q3_K_M = 12,
    /// <summary>Q3_K, large mixture.</summary>
    Q3_K_L = 13,
    /// <summary>Q4_K, small mixture.</summary>
    Q4_K_S = 14,
    /// <summary>Q4_K, medium mixture.</summary>
    Q4_K_M = 15,
    /// <summary>Q5_K, small mixture.</summary>
    Q5_K_S = 16,
    /// <summary>Q5_K, medium mixture.</summary>
    Q5_K_M = 17,
    /// <summary>Q6_K.</summary>
    Q6_K = 18,
    /// <summary>IQ2_XXS (2.06 bits per weight) with Q2_K/Q4_K attention V, the first eighth of ffn_down Q2_K, the output Q5_K; needs an importance matrix.</summary>
    IQ2_XXS = 19,
    /// <summary>IQ2_XS (2.31 bits) in the same mixture as IQ2_XXS; needs an importance matrix.</summary>
    IQ2_XS = 20,
    /// <summary>3.3 bits: IQ3_S, attention Q/K and the middle layers' ffn_gate/ffn_up IQ3_XXS.</summary>
    IQ3_XS = 22,
    /// <summary>IQ3_XXS (3.06 bits), attention Q/K IQ2_S, attention output and token embedding IQ3_S; needs an importance matrix.</summary>
    IQ3_XXS = 23,
    /// <summary>IQ1_S (1.56 bits), attention output IQ2_XXS; needs an importance matrix.</summary>
    IQ1_S = 24,
    /// <summary>IQ4_NL.</summary>
    IQ4_NL = 25,
    /// <summary>IQ3_S (3.44 bits).</summary>
    IQ3_S = 26,
    /// <summary>IQ3_S with attention V, attention output and the first eighth of ffn_down Q4_K.</summary>
    IQ3_M = 27,
    /// <summary>2.5 bits: IQ2_XS with attention V, attention output and the first eighth of ffn_down IQ3_S; needs an importance matrix.</summary>
    IQ2_S = 28,
    /// <summary>2.7 bits: IQ2_S in the IQ2_S file type's mixture; needs an importance matrix.</summary>
    IQ2_M = 29,
    /// <summary>IQ4_XS.</summary>
    IQ4_XS = 30,
    /// <summary>IQ1_M (1.75 bits), attention output IQ2_XXS; needs an importance matrix.</summary>
    IQ1_M = 31,
    /// <summary>Every quantizable tensor BF16.</summary>
    BF16 = 32,
    /// <summary>Ternary weights (BitNet b1.58, TriLM) at 1.6875 bits: TQ1_0, the token embedding Q4_K, the output Q6_K.</summary>
    TQ1_0 = 36,
    /// <summary>Ternary weights at 2.0625 bits (faster to decode than TQ1_0): TQ2_0, the token embedding Q4_K, the output Q6_K.</summary>
    TQ2_0 = 37,
    /// <summary>gpt-oss's layout: routed experts (3-D tensors) in MXFP4, every other quantized matrix Q8_0.</summary>
    MXFP4_MOE = 38,
}

/// <summary>Names and default tensor types of the <see cref="ModelFileType"/>s.</summary>
public static class ModelFileTypes
{
    /// <summary>Every file type <c>suiron quantize</c> can write, in the order llama-quantize lists them.</summary>
    public static IReadOnlyList<ModelFileType> All { get; } =
    [
        ModelFileType.Q4_0, ModelFileType.Q4_1, ModelFileType.Q5_0, ModelFileType.Q5_1,
        ModelFileType.IQ2_XXS, ModelFileType.IQ2_XS, ModelFileType.IQ2_S, ModelFileType.IQ2_M, ModelFileType.IQ1_S, ModelFileType.IQ1_M,
        ModelFileType.Q2_K, ModelFileType.IQ3_XXS, ModelFileType.IQ3_S, ModelFileType.IQ3_M, ModelFileType.IQ3_XS, ModelFileType.Q3_K_S, ModelFileType.Q3_K_M, ModelFileType.Q3_K_L,
        ModelFileType.Q4_K_S, ModelFileType.Q4_K_M, ModelFileType.Q5_K_S, ModelFileType.Q5_K_M,
        ModelFileType.Q6_K, ModelFileType.IQ4_NL, ModelFileType.IQ4_XS, ModelFileType.TQ1_0, ModelFileType.TQ2_0, ModelFileType.Q8_0, ModelFileType.MXFP4_MOE,
        ModelFileType.F16, ModelFileType.BF16, ModelFileType.F32,
    ];

    /// <summary>Parses a name such as <c>Q4_K_M</c> or <c>f16</c> (case-insensitive; <c>Q4_K</c> and <c>Q5_K</c> mean their <c>_M</c> mixture, <c>Q3_K</c> its <c>_M</c>, as in llama-quantize).</summary>
    public static bool TryParse(string name, out ModelFileType type)
    {
        string key = name.Trim().ToUpperInvariant();
        switch (key)
        {
            case "Q3_K": type = ModelFileType.Q3_K_M; return true;
            case "Q4_K": type = ModelFileType.Q4_K_M; return true;
            case "Q5_K": type = ModelFileType.Q5_K_M; return true;
        }
        foreach (var candidate in All)
        {
            if (candidate.ToString() == key)
            {
                type = candidate;
                return true;
            }
        }
        type = default;
        return false;
    }

    /// <summary>The tensor type most weights of a file of this type get (llama.cpp's llama_ftype_get_default_type).</summary>
    public static TensorType DefaultTensorType(ModelFileType fileType) => fileType switch
    {
        ModelFileType.F32 => TensorType.F32,
        ModelFileType.F16 => TensorType.F16,
        ModelFileType.BF16 => TensorType.BF16,
        ModelFileType.Q4_0 => TensorType.Q4_0,
        ModelFileType.Q4_1 => TensorType.Q4_1,
        ModelFileType.Q5_0 => TensorType.Q5_0,
        ModelFileType.Q5_1 => TensorType.Q5_1,
        ModelFileType.Q8_0 => TensorType.Q8_0,
        ModelFileType.Q2_K => TensorType.Q2_K,
        ModelFileType.Q3_K_S or ModelFileType.Q3_K_M or ModelFileType.Q3_K_L => TensorType.Q3_K,
        ModelFileType.Q4_K_S or ModelFileType.Q4_K_M => TensorType.Q4_K,
        ModelFileType.Q5_K_S or ModelFileType.Q5_K_M => TensorType.Q5_K,
        ModelFileType.Q6_K => TensorType.Q6_K,
        ModelFileType.MXFP4_MOE => TensorType.MXFP4,
        ModelFileType.IQ4_NL => TensorType.IQ4_NL,
        ModelFileType.IQ4_XS => TensorType.IQ4_XS,
        ModelFileType.TQ1_0 => TensorType.TQ1_0,
        ModelFileType.TQ2_0 => TensorType.TQ2_0,
        ModelFileType.IQ2_XXS => TensorType.IQ2_XXS,
        ModelFileType.IQ2_XS or ModelFileType.IQ2_S => TensorType.IQ2_XS,
        ModelFileType.IQ2_M => TensorType.IQ2_S,
        ModelFileType.IQ3_XXS => TensorType.IQ3_XXS,
        ModelFileType.IQ3_XS or ModelFileType.IQ3_S or ModelFileType.IQ3_M => TensorType.IQ3_S,
        ModelFileType.IQ1_S => TensorType.IQ1_S,
        ModelFileType.IQ1_M => TensorType.IQ1_M,
        _ => throw new ArgumentOutOfRangeException(nameof(fileType), fileType, "Not a file type Suiron can write."),
    };

    /// <summary>
    /// The file types llama-quantize refuses to write without an importance matrix ("Please do not use IQ1_S, IQ1_M, IQ2_S,
    /// IQ2_XXS, IQ2_XS or Q2_K_S quantization without an importance matrix"): their 1-2 bit tensors come out as noise without one.
    /// Others (IQ2_M, IQ3_XXS, IQ3_XS) still fail later, per tensor, when a tensor's type needs one (<see cref="ModelQuantizer"/>).
    /// </summary>
    public static bool RequiresImportanceMatrix(ModelFileType fileType) => fileType is ModelFileType.IQ2_XXS or ModelFileType.IQ2_XS
        or ModelFileType.IQ2_S or ModelFileType.IQ1_S or ModelFileType.IQ1_M;

    /// <summary>True for the block-quantized types (llama.cpp's ggml_is_quantized): only these get mixtures and shape fallbacks.</summary>
    internal static bool IsBlockQuantized(TensorType type) => type is not (TensorType.F32 or TensorType.F16 or TensorType.BF16
        or TensorType.F64 or TensorType.I8 or TensorType.I16 or TensorType.I32 or TensorType.I64);
}
