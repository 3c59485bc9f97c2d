using Suiron.Gguf;

namespace Suiron.Benchmarking;

/// <summary>What llama-bench prints about a model: file, bytes of tensors, parameters, and the file type.</summary>
public sealed record ModelDescription(string File, string Architecture, long SizeBytes, long Parameters, string Type)
{
    /// <summary>The description of <paramref name="file"/> with its <paramref name="parameters"/> count.</summary>
    public static ModelDescription Of(GgufFile file, long parameters) => new(
        Path.GetFileName(file.Path),
        file.GetStringOrNull("general.architecture") ?? "?",
        file.Tensors.Sum(t => t.ByteSize),
        parameters,
        TypeName(file));

    /// <summary>llama.cpp's name for <c>general.file_type</c> (llama_model_ftype_name); without it, the type holding most bytes.</summary>
    public static string TypeName(GgufFile file)
    {
        if (file.Contains("general.file_type"))
        {
            string? name = file.GetInt64("general.file_type") switch
            {
                0 => "all F32",
                1 => "F16",
                2 => "Q4_0",
                3 => "Q4_1",
                7 => "Q8_0",
                8 => "Q5_0",
                9 => "Q5_1",
                10 => "Q2_K - Medium",
                11 => "Q3_K - Small",
                12 => "Q3_K - Medium",
                13 => "Q3_K - Large",
                14 => "Q4_K - Small",
                15 => "Q4_K - Medium",
                16 => "Q5_K - Small",
                17 => "Q5_K - Medium",
                18 => "Q6_K",
                19 => "IQ2_XXS - 2.0625 bpw",
                20 => "IQ2_XS - 2.3125 bpw",
                21 => "Q2_K - Small",
                22 => "IQ3_XS - 3.3 bpw",
                23 => "IQ3_XXS - 3.0625 bpw",
                24 => "IQ1_S - 1.5625 bpw",
                25 => "IQ4_NL - 4.5 bpw",
                26 => "IQ3_S - 3.4375 bpw",
                27 => "IQ3_S mix - 3.66 bpw",
                28 => "IQ2_S - 2.5 bpw",
                29 => "IQ2_M - 2.7 bpw",
                30 => "IQ4_XS - 4.25 bpw",
                31 => "IQ1_M - 1.75 bpw",
                32 => "BF16",
                36 => "TQ1_0 - 1.69 bpw ternary",
                37 => "TQ2_0 - 2.06 bpw ternary",
                38 => "MXFP4 MoE",
                _ => null,
            };
            if (name is not null) return name;
        }
        var dominant = file.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteSize)).FirstOrDefault();
        return dominant is null ? "?" : dominant.Key.ToString();
    }

    /// <summary>Parameters in the style of llama-bench: <c>494.03 M</c>, <c>1.24 B</c>.</summary>
    public static string FormatCount(long count) =>
        count >= 1_000_000_000 ? $"{count / 1e9:F2} B" : count >= 1_000_000 ? $"{count / 1e6:F2} M" : $"{count / 1e3:F2} K";

    /// <summary>Bytes in binary units: <c>468.64 MiB</c>, <c>1.22 GiB</c>.</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):F2} KiB",
        _ => $"{bytes} B",
    };
}
