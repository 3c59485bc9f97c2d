using System.Runtime.InteropServices;
using LLama.Native;
using Suiron.ModelQuantization;

namespace Suiron.Tests.ModelQuantization;

/// <summary>llama.cpp's own quantizer (llama_model_quantize, the engine of llama-quantize), called through LLamaSharp: the oracle.</summary>
internal static class LlamaCppQuantizer
{
    private static readonly Lock Gate = new(); // llama.cpp's loader logs and model registry are process-wide; one quantization at a time

    /// <summary>
    /// Quantizes as <c>llama-quantize [--pure] [--imatrix IMATRIX] IN OUT TYPE</c> does (output tensor quantized,
    /// requantizing allowed). False when llama.cpp refuses the model.
    /// </summary>
    public static bool Quantize(string input, string output, ModelFileType fileType, bool pure = false, string? imatrix = null)
    {
        lock (Gate)
        {
            NativeApi.llama_empty_call(); // loads the native library through LLamaSharp's resolver before any other native call
            CheckParameterLayout();
            var parameters = LLamaModelQuantizeParams.Default();
            parameters.nthread = 2;
            parameters.ftype = (LLamaFtype)(int)fileType;
            parameters.allow_requantize = true;
            parameters.quantize_output_tensor = true;
            parameters.pure = pure;
            using var importance = imatrix is null ? null : LlamaCppImportanceMatrix.Load(imatrix);
            if (importance is not null)
            {
                parameters.imatrix = importance.Entries;
                parameters.kv_overrides = importance.Overrides;
            }
            return NativeApi.llama_model_quantize(input, output, ref parameters) == 0;
        }
    }

    /// <summary>
    /// llama_model_quantize_params as libllama.so of LLamaSharp 0.30.0 reads it (llama_model_quantize_default_params fills
    /// 56 bytes; the imatrix and kv_overrides pointers at 24 and 32): a LLamaSharp whose struct drifts from its native
    /// library fails here, not inside llama.cpp.
    /// </summary>
    private static void CheckParameterLayout()
    {
        if (Marshal.SizeOf<LLamaModelQuantizeParams>() != 56
            || Marshal.OffsetOf<LLamaModelQuantizeParams>(nameof(LLamaModelQuantizeParams.imatrix)) != 24
            || Marshal.OffsetOf<LLamaModelQuantizeParams>(nameof(LLamaModelQuantizeParams.kv_overrides)) != 32)
            throw new InvalidOperationException("LLamaSharp's LLamaModelQuantizeParams no longer matches llama.h's llama_model_quantize_params");
    }
}
