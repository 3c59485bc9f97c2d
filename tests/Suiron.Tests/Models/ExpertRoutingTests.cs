using Suiron.Models;
using Xunit;

namespace Suiron.Tests.Models;

public sealed class ExpertRoutingTests
{
    /// <summary>
    /// DeepSeek-V3 routing by hand: sigmoid scores, a bias that only chooses, 4 groups of 2 of which the 2 whose
    /// two experts sum highest stay eligible, top-3, weights renormalized to 1 and scaled.
    /// </summary>
    [Fact]
    public void GroupLimitedSigmoidWithSelectionBias()
    {
        var routing = new ExpertRouting(ExpertCount: 8, UsedCount: 3, FeedForwardLength: 1, ExpertGating.Sigmoid,
            GroupCount: 4, GroupsUsed: 2, NormalizeWeights: true, WeightsScale: 2f);
        float[] logits = [2f, 1.9f, 3f, -3f, 0f, 0f, -1f, -1.2f];
        float[] bias = [0f, 0f, 0f, 0f, 0f, 0f, 2f, 0f]; // lifts expert 6, and so group 3, into the running
        var experts = new int[3];
        var weights = new float[3];
        float margin = routing.Route(logits, bias, new float[8], experts, weights);

        static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
        // Group sums of the biased scores: g0 = σ(2)+σ(1.9) ≈ 1.75, g1 = σ(3)+σ(-3) ≈ 1.0, g2 = 1.0, g3 = σ(-1)+2+σ(-1.2) ≈ 2.50.
        // Kept: g3 and g0; expert 2 (the best score overall, in g1) is out. Top-3 of {0, 1, 6, 7} by biased score: 6, 0, 1.
        Assert.Equal([6, 0, 1], experts);
        float w6 = Sigmoid(-1f), w0 = Sigmoid(2f), w1 = Sigmoid(1.9f), sum = w6 + w0 + w1; // unbiased scores weigh
        Assert.Equal(2f * w6 / sum, weights[0], 6);
        Assert.Equal(2f * w0 / sum, weights[1], 6);
        Assert.Equal(2f * w1 / sum, weights[2], 6);
        Assert.True(margin > 0 && margin < 0.5f);
    }

    /// <summary>DeepSeek-V2 / Qwen-MoE routing: softmax over all experts, top-2, weights as they come or renormalized.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SoftmaxTopK(bool normalize)
    {
        var routing = new ExpertRouting(4, 2, 1, ExpertGating.Softmax, 0, 0, normalize, 0f);
        float[] logits = [0f, 2f, 1f, -1f];
        var experts = new int[2];
        var weights = new float[2];
        routing.Route(logits, default, new float[4], experts, weights);
        Assert.Equal([1, 2], experts);
        float total = 1 + MathF.Exp(2) + MathF.Exp(1) + MathF.Exp(-1);
        float p1 = MathF.Exp(2) / total, p2 = MathF.Exp(1) / total;
        Assert.Equal(normalize ? p1 / (p1 + p2) : p1, weights[0], 5);
        Assert.Equal(normalize ? p2 / (p1 + p2) : p2, weights[1], 5);
    }
}
