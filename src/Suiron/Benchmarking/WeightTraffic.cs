using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.Benchmarking;

/// <summary>
/// Bytes of weights one decoded token reads: every weight tensor once (the 2-D matrices, plus the small norms and
/// biases), the output head (the embedding matrix again when the output is tied to it), but only one row of the token
/// embedding; of a mixture-of-experts layer's stacked routed experts (<c>ffn_*_exps</c>) only the
/// <c>expert_used_count</c> of <c>expert_count</c> experts a token is routed to (the router and shared experts are
/// read whole). Decode is bound by this traffic, so bytes per token × tokens per second is the bandwidth achieved
/// (the KV cache, small at these lengths, is not counted, as llama-bench does not).
/// </summary>
public static class WeightTraffic
{
    /// <summary>The token embedding tensor's name: one row of it is read per token.</summary>
    public const string TokenEmbedding = "token_embd.weight";
    /// <summary>The output projection's name (the embedding, tied, where it is absent).</summary>
    public const string Output = "output.weight";

    /// <summary>Bytes of weights one decoded token reads from <paramref name="file"/>.</summary>
    public static long BytesPerToken(GgufFile file)
    {
        bool tied = !file.HasTensor(Output);
        string arch = file.Architecture;
        int experts = file.GetInt32(arch + ".expert_count", 0), used = file.GetInt32(arch + ".expert_used_count", 0);
        long bytes = 0;
        foreach (GgufTensorInfo t in file.Tensors)
        {
            if (t.Name == TokenEmbedding)
            {
                bytes += TensorTypes.RowBytes(t.Type, t.Shape[0]);
                if (tied) bytes += t.ByteSize;
            }
            else if (experts > 0 && IsStackedExperts(t))
            {
                // Experts are stacked along the outermost dimension, each the same number of bytes.
                if (t.Shape[^1] != experts) throw new GgufException($"{t.Name} stacks {t.Shape[^1]} experts, {arch}.expert_count says {experts}", -1, file.Path);
                bytes += t.ByteSize / experts * used;
            }
            else bytes += t.ByteSize;
        }
        return bytes;
    }

    /// <summary>The routed experts' tensors: blk.N.ffn_{gate,up,down,gate_up}_exps.weight, 3-D.</summary>
    private static bool IsStackedExperts(GgufTensorInfo t) =>
        t.Shape.Length == 3 && t.Name.EndsWith("_exps.weight", StringComparison.Ordinal);

    /// <summary>Weight bytes read per second, in GB/s (10⁹), at <paramref name="tokensPerSecond"/> decoded tokens.</summary>
    public static double GigabytesPerSecond(long bytesPerToken, double tokensPerSecond) => bytesPerToken * tokensPerSecond / 1e9;
}
