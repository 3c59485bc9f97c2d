using LLama;
using LLama.Common;
using LLama.Native;
using Xunit;
using Xunit.Abstractions;

public class OracleSmoke(ITestOutputHelper output)
{
    [Fact]
    public void LoadsStories()
    {
        var p = new ModelParams("/work/shared/models/stories260K.gguf") { ContextSize = 256, GpuLayerCount = 0 };
        using var w = LLamaWeights.LoadFromFile(p);
        using var ctx = w.CreateContext(p);
        var toks = ctx.Tokenize("Once upon a time", true);
        output.WriteLine(string.Join(",", toks.Select(t => (int)t)));
    }
}
