using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.Benchmarking;

/// <summary>
/// Bytes of weights one decoded token reads: every weight tensor once (the 2-D matrices, plus the small norms and
/// biases), the output head (the embedding matrix again when the output is tied to it), but only one row of the token
/// embedding. Decode is bound by this traffic, so bytes per token × tokens per second is the bandwidth achieved
/// (the KV cache, small at these lengths, is not counted, as llama-bench does not).
/// </summary>
public static class WeightTraffic
{
    public const string TokenEmbedding = "token_embd.weight";
    public const string Output = "output.weight";

    public static long BytesPerToken(GgufFile file)
    {
        bool tied = !file.HasTensor(Output);
        long bytes = 0;
        foreach (GgufTensorInfo t in file.Tensors)
        {
            if (t.Name == TokenEmbedding)
            {
                bytes += TensorTypes.RowBytes(t.Type, t.Shape[0]);
                if (tied) bytes += t.ByteSize;
            }
            else bytes += t.ByteSize;
        }
        return bytes;
    }

    /// <summary>Weight bytes read per second, in GB/s (10⁹), at <paramref name="tokensPerSecond"/> decoded tokens.</summary>
    public static double GigabytesPerSecond(long bytesPerToken, double tokensPerSecond) => bytesPerToken * tokensPerSecond / 1e9;
}
