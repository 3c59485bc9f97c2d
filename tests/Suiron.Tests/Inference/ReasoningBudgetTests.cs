using Suiron.Inference;
using Suiron.Sampling;
using Xunit;

namespace Suiron.Tests.Inference;

/// <summary>
/// The reasoning budget on stories260K, greedy, through the scheduler and the single-sequence generator alike: the
/// unbudgeted output is the reference, and the budget may only force its closing tokens where it is spent.
/// </summary>
public sealed class ReasoningBudgetTests : IDisposable
{
    private readonly LocalModel _model = LocalModel.Load(SharedData.Path("models", "stories260K.gguf"),
        new LocalModelOptions { Model = new Suiron.Models.ModelOptions { Threads = 1, ContextSize = 128 } });
    private readonly int[] _prompt;
    private readonly int[] _unbudgeted;

    public ReasoningBudgetTests()
    {
        _prompt = _model.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        _unbudgeted = Generate(null).Scheduled;
        Assert.Equal(12, _unbudgeted.Length);
    }

    public void Dispose() => _model.Dispose();

    private (int[] Scheduled, int[] Single) Generate(ReasoningBudget? budget)
    {
        var options = new GenerationOptions { MaxTokens = 12, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false, ReasoningBudget = budget };
        var scheduled = _model.Scheduler.Submit(new GenerationRequest(_prompt, options)).ToListAsync().GetAwaiter().GetResult()
            .Where(s => s.Token >= 0).Select(s => s.Token).ToArray();
        var single = new Generator(_model.Model, _model.Tokenizer).Generate(_prompt, options).Where(s => s.Token >= 0).Select(s => s.Token).ToArray();
        return (scheduled, single);
    }

    /// <summary>Two token ids the greedy output never holds, to stand for a two-token closing tag.</summary>
    private int[] ForeignClose() => Enumerable.Range(300, 200).Where(t => !_unbudgeted.Contains(t)).Take(2).ToArray();

    [Fact]
    public void ThePromptOpenedTheBlockSoTheCloseIsForcedOnceTheBudgetIsSpent()
    {
        int[] close = ForeignClose();
        var (scheduled, single) = Generate(new ReasoningBudget(3, [], close, StartsInReasoning: true));
        Assert.Equal(_unbudgeted[..3], scheduled[..3]);
        Assert.Equal(close, scheduled[3..5]);
        Assert.Equal(12, scheduled.Length);
        Assert.Equal(scheduled, single);
    }

    [Fact]
    public void ABlockOpenedByTheOutputIsCountedFromItsOpening()
    {
        int[] close = ForeignClose();
        var (scheduled, single) = Generate(new ReasoningBudget(2, [_unbudgeted[0]], close, StartsInReasoning: false));
        Assert.Equal(_unbudgeted[..3], scheduled[..3]); // the opening token, then two of reasoning
        Assert.Equal(close, scheduled[3..5]);
        Assert.Equal(scheduled, single);
    }

    [Fact]
    public void AModelThatClosesTheBlockItselfIsNotCut()
    {
        // The second token stands for the closing tag: the model closes within its budget, nothing is forced after.
        var (scheduled, single) = Generate(new ReasoningBudget(2, [], [_unbudgeted[1]], StartsInReasoning: true));
        Assert.Equal(_unbudgeted, scheduled);
        Assert.Equal(_unbudgeted, single);
    }

    [Fact]
    public void AnOutputThatDoesNotOpenABlockIsNotLimited()
    {
        int other = Enumerable.Range(300, 10).First(t => t != _unbudgeted[0]);
        var (scheduled, single) = Generate(new ReasoningBudget(0, [other], ForeignClose(), StartsInReasoning: false));
        Assert.Equal(_unbudgeted, scheduled);
        Assert.Equal(_unbudgeted, single);
    }

    [Fact]
    public async Task AGrammarDecidesEveryTokenSoTheBudgetStandsAside()
    {
        var grammar = Suiron.Sampling.Grammar.Grammar.Parse("root ::= [a-z ]+");
        var options = new GenerationOptions
        {
            MaxTokens = 8, Sampling = SamplingOptions.Greedy, StopAtEndOfGeneration = false, Grammar = grammar,
            ReasoningBudget = new ReasoningBudget(1, [], ForeignClose(), StartsInReasoning: true),
        };
        var free = await _model.Scheduler.Submit(new GenerationRequest(_prompt, options with { ReasoningBudget = null })).ToListAsync();
        var budgeted = await _model.Scheduler.Submit(new GenerationRequest(_prompt, options)).ToListAsync();
        Assert.Equal(free.Select(s => s.Token), budgeted.Select(s => s.Token));
    }
}
