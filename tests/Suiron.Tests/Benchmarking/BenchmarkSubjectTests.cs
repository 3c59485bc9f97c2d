using Suiron.Benchmarking;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tests.Models;
using Xunit;

namespace Suiron.Tests.Benchmarking;

/// <summary>
/// The bench fills a depth's context once and cuts the cache back to it after every run: each run must still see exactly
/// the context, so its logits equal those of the context and the run's tokens evaluated into a fresh cache — for plain
/// attention (stories260K) and for a hybrid whose recurrent state must come back to the end of the context (a tiny Qwen3.5).
/// </summary>
public sealed class BenchmarkSubjectTests
{
    [Theory]
    [InlineData("stories260K")]
    [InlineData("qwen35")]
    public void Runs_after_the_first_see_only_the_context(string name)
    {
        string path = name == "stories260K" ? SharedData.Path("models", "stories260K.gguf") : MoeModelBuilder.Qwen35F32();
        using var file = GgufFile.Open(path);
        using var model = ModelLoader.Load(file, new ModelOptions { Threads = 2, ContextSize = 256 });
        int vocab = model.Info.VocabSize;
        var random = new Random(3);
        int[] context = Enumerable.Range(0, 40).Select(_ => random.Next(1, vocab)).ToArray();
        int[] prompt = Enumerable.Range(0, 9).Select(_ => random.Next(1, vocab)).ToArray();
        int[] otherPrompt = Enumerable.Range(0, 9).Select(_ => random.Next(1, vocab)).ToArray();

        float[] Fresh(int[] tokens)
        {
            var logits = new float[vocab];
            var cache = model.CreateCache(256);
            model.Forward(context, cache, logits);
            model.Forward(tokens, cache, logits);
            return logits;
        }
        float[] expected = Fresh(prompt), expectedOther = Fresh(otherPrompt);

        var subject = new SuironBenchmarkSubject(model, 256);
        subject.TimePrompt(context, prompt);
        Assert.Equal(expected, subject.Logits.ToArray());
        subject.TimePrompt(context, otherPrompt); // the cache now held context + prompt: cut back, not refilled
        Assert.Equal(expectedOther, subject.Logits.ToArray());
        subject.TimeGeneration(context, prompt[0], 5); // tg after pp on the same context
        subject.TimePrompt(context, prompt);
        Assert.Equal(expected, subject.Logits.ToArray());

        // A different context is filled from empty.
        int[] otherContext = context.Reverse().ToArray();
        var reference = new float[vocab];
        var fresh = model.CreateCache(256);
        model.Forward(otherContext, fresh, reference);
        model.Forward(prompt, fresh, reference);
        subject.TimePrompt(otherContext, prompt);
        Assert.Equal(reference, subject.Logits.ToArray());
    }
}
