namespace Suiron.Bench;

/// <summary>The quantized file types the bench writes, with llama.cpp's <c>llama_ftype</c> numbers.</summary>
internal enum BenchFileType
{
    F16 = 1,
    Q8_0 = 7,
    /// <summary>Matrices IQ2_XXS, the token embedding Q4_K, made by ggml_quantize_chunk (see <see cref="GgmlChunkQuantizer"/>).</summary>
    IQ2_XXS = 19,
    Q4_K_M = 15,
    IQ4_XS = 30,
    /// <summary>gpt-oss's layout: experts MXFP4, other matrices Q8_0 (MoE models; on a dense one it is all Q8_0).</summary>
    MXFP4_MOE = 38,
}

