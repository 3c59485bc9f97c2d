using LLama.Native;
using Suiron.ModelQuantization;

namespace Suiron.Tests.ModelQuantization;

/// <summary>llama.cpp's own quantizer (llama_model_quantize, the engine of llama-quantize), called through LLamaSharp: the oracle.</summary>
internal static class LlamaCppQuantizer
{
    private static readonly Lock Gate = new(); // llama.cpp's loader logs and model registry are process-wide; one quantization at a time

    /// <summary>
    /// Quantizes as <c>llama-quantize [--pure] IN OUT TYPE</c> does (output tensor quantized, requantizing allowed).
    /// False when llama.cpp refuses the model.
    /// </summary>
    public static bool Quantize(string input, string output, ModelFileType fileType, bool pure = false)
    {
        lock (Gate)
        {
            NativeApi.llama_empty_call(); // loads the native library through LLamaSharp's resolver before any other native call
            var parameters = LLamaModelQuantizeParams.Default();
            parameters.nthread = 2;
            parameters.ftype = (LLamaFtype)(int)fileType;
            parameters.allow_requantize = true;
            parameters.quantize_output_tensor = true;
            parameters.pure = pure;
            return NativeApi.llama_model_quantize(input, output, ref parameters) == 0;
        }
    }
}
