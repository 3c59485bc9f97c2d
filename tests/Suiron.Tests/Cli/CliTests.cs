using System.Text;
using Xunit;
using ModelOracle = Suiron.Tests.Models.LlamaCppOracle;
using TokenizerOracle = Suiron.Tests.Tokenization.LlamaCppOracle;

namespace Suiron.Tests.Cli;

/// <summary>The <c>suiron</c> command end to end: outputs compared with llama.cpp, errors and exit codes.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("suiron-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Stories => SharedData.Path("models", "stories260K.gguf");

    [Theory]
    [InlineData("stories260K.gguf", "Once upon a time", 48)]
    [InlineData("stories260K.gguf", "Lily and Tom went to the park.", 40)]
    [InlineData("llama-2-tiny-random.gguf", "Hello world", 24)]
    public void GreedyRunPrintsExactlyLlamaCppsContinuation(string model, string prompt, int count)
    {
        string path = SharedData.Path("models", model);
        int[] continuation;
        using (var oracle = new ModelOracle(path))
            continuation = oracle.Greedy(oracle.Tokenize(prompt), count).Continuation;
        var pieces = TokenizerOracle.For(path);
        // llama.cpp stops at end of generation; so must we, and the text is the concatenation of the pieces before it.
        int end = Array.FindIndex(continuation, pieces.IsEndOfGeneration);
        var bytes = new List<byte>();
        foreach (int id in end < 0 ? continuation : continuation[..end]) bytes.AddRange(pieces.TokenToPiece(id, special: false));
        string expected = Encoding.UTF8.GetString(bytes.ToArray());

        var result = SuironProcess.Run("run", "--model", path, "--prompt", prompt, "-n", count.ToString(), "--temp", "0", "--threads", "2");
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Equal(expected, result.StdOut);
        Assert.Matches(@"generation: \d+ tokens in \d+ ms \([\d.]+ tok/s\)", result.StdErr);
    }

    [Fact]
    public void SameSeedSameTextAtTemperature()
    {
        string[] args = ["run", "--model", Stories, "--prompt", "Once upon a time", "-n", "40", "--temp", "1.0", "--seed", "1234"];
        var first = SuironProcess.Run(args);
        var second = SuironProcess.Run(args);
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(first.StdOut, second.StdOut);
        Assert.NotEmpty(first.StdOut);
    }

    [Fact]
    public void StopStringEndsTheOutputBeforeIt()
    {
        var full = SuironProcess.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "48", "--temp", "0");
        // The greedy story reads ", there was a little girl named Lily. ..." — stop at "Lily".
        int at = full.StdOut.IndexOf("Lily", StringComparison.Ordinal);
        Assert.True(at > 0, full.StdOut);
        var stopped = SuironProcess.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "48", "--temp", "0", "--stop", "Lily");
        Assert.Equal(0, stopped.ExitCode);
        Assert.Equal(full.StdOut[..at], stopped.StdOut);
    }

    [Theory]
    [InlineData("Once upon a time, 日本語のテキスト 🦙")]
    [InlineData("   leading spaces\nand a newline")]
    [InlineData("<s> is text unless parsed")]
    public void TokenizeIdsEqualLlamaCpp(string text)
    {
        // llama-tokenize adds BOS where the model asks for it unless --no-bos, and prints --ids as a list: [1, 2, 3].
        string model = SharedData.Path("models", "llama-2-tiny-random.gguf");
        var oracle = TokenizerOracle.For(model);
        var withBos = SuironProcess.Run("tokenize", "--model", model, "--prompt", text, "--ids");
        Assert.Equal(0, withBos.ExitCode);
        Assert.Equal("[" + string.Join(", ", oracle.Tokenize(text, addSpecial: true, parseSpecial: true)) + "]\n", withBos.StdOut);
        var plain = SuironProcess.Run("tokenize", "--model", model, "--prompt", text, "--ids", "--no-bos");
        Assert.Equal("[" + string.Join(", ", oracle.Tokenize(text, addSpecial: false, parseSpecial: true)) + "]\n", plain.StdOut);
        Assert.StartsWith("[1, ", withBos.StdOut); // the Llama-2 vocabulary's BOS
    }

    /// <summary>
    /// Japanese through byte-level BPE vocabularies: llama-tokenize writes each piece's raw bytes (a piece holding part
    /// of a character is not UTF-8 on its own), so the output must equal, byte for byte, the lines built from llama.cpp's
    /// own tokens and pieces.
    /// </summary>
    [Theory]
    [InlineData("ggml-vocab-gpt-2.gguf", "東京の天気は晴れです。明日は雨でしょう。")]
    [InlineData("ggml-vocab-deepseek-llm.gguf", "日本語のテキストと English が混在する文章 🦙")]
    [InlineData("ggml-vocab-llama-spm.gguf", "こんにちは、世界！ 表の列と行")]
    public void TokenizePiecesEqualLlamaTokenizeByteForByte(string vocab, string text)
    {
        string path = SharedData.Path("vocab", vocab);
        var oracle = TokenizerOracle.For(path);
        var expected = new List<byte>();
        foreach (int id in oracle.Tokenize(text, addSpecial: true, parseSpecial: true))
        {
            expected.AddRange(Encoding.UTF8.GetBytes($"{id,6} -> '"));
            expected.AddRange(oracle.TokenToPiece(id, special: true));
            expected.AddRange("'\n"u8.ToArray());
        }
        var result = SuironProcess.Run("tokenize", "-m", path, "-p", text);
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Equal(expected.ToArray(), result.StdOutBytes);
        Assert.DoesNotContain("æ", result.StdOut); // no byte-level BPE's stand-in characters (U+00E6 for byte 0xE6)
    }

    [Fact]
    public void TokenizeReadsAFileAndListsPieces()
    {
        string input = Path.Combine(_dir, "in.txt");
        File.WriteAllText(input, "Once upon a time");
        var result = SuironProcess.Run("tokenize", "--model", Stories, "--file", input, "--show-count");
        Assert.Equal(0, result.ExitCode);
        var oracle = TokenizerOracle.For(Stories);
        string[] lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int[] ids = oracle.Tokenize("Once upon a time", addSpecial: true, parseSpecial: true);
        Assert.Equal(ids.Length + 1, lines.Length);
        for (int i = 0; i < ids.Length; i++)
            Assert.Equal($"{ids[i],6} -> '{Encoding.UTF8.GetString(oracle.TokenToPiece(ids[i], special: true))}'", lines[i]);
        Assert.Equal($"Total number of tokens: {ids.Length}", lines[^1]);
    }

    [Theory]
    [InlineData("a\\nb", "a\nb")]
    [InlineData("tab\\there", "tab\there")]
    [InlineData("q\\\"x\\'", "q\"x'")]
    [InlineData("back\\\\slash", "back\\slash")]
    [InlineData("hex\\x41\\x62", "hexAb")]
    [InlineData("unknown \\q stays", "unknown \\q stays")]
    public void TokenizeProcessesEscapesAsLlamaCppDoes(string typed, string meant)
    {
        string model = SharedData.Path("models", "llama-2-tiny-random.gguf");
        var oracle = TokenizerOracle.For(model);
        var escaped = SuironProcess.Run("tokenize", "-m", model, "-p", typed, "--ids", "--no-bos");
        Assert.Equal("[" + string.Join(", ", oracle.Tokenize(meant, addSpecial: false, parseSpecial: true)) + "]\n", escaped.StdOut);
        var literal = SuironProcess.Run("tokenize", "-m", model, "-p", typed, "--ids", "--no-bos", "--no-escape");
        Assert.Equal("[" + string.Join(", ", oracle.Tokenize(typed, addSpecial: false, parseSpecial: true)) + "]\n", literal.StdOut);
    }

    [Fact]
    public void InfoReportsTheModelAndTheExactKvCacheCost()
    {
        var result = SuironProcess.Run("info", Stories);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("architecture:   llama", result.StdOut);
        // By hand: 5 layers × 4 KV heads × (8 key + 8 value dims) × 2 bytes (F16) = 640 bytes per token.
        Assert.Contains("kv cache:       640 bytes per token", result.StdOut);
        Assert.Matches(@"F32\s+48 tensors\s+292,800 elements", result.StdOut);
        Assert.Contains("512 tokens", result.StdOut);
    }

    /// <summary>
    /// The tiny llama has 64-element heads: with both caches q8_0 its queries/keys and values are rotated in 64-blocks;
    /// llama.cpp's LLAMA_ATTN_ROT_DISABLE=1 turns that off, and an F16 cache is never rotated.
    /// </summary>
    [Theory]
    [InlineData("q8_0", "q8_0", "0", "q,k Hadamard 64, v 64")]
    [InlineData("q8_0", "f16", "0", "q,k Hadamard 64")]
    [InlineData("f16", "q8_0", "0", "v Hadamard 64")]
    [InlineData("q8_0", "q8_0", "1", "off")]
    [InlineData("f16", "f16", "0", "off")]
    public void InfoReportsTheAttentionRotation(string keyType, string valueType, string disable, string expected)
    {
        string path = Suiron.Tests.Models.TinyModelBuilder.F32(Suiron.Tests.Models.TinyModelOracleTests.Llama);
        var result = SuironProcess.RunWithEnvironment(null, new Dictionary<string, string> { ["LLAMA_ATTN_ROT_DISABLE"] = disable },
            "info", path, "-ctk", keyType, "-ctv", valueType);
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains($"kv rotation:    {expected}\n", result.StdOut.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void InfoShowsTheCompressedMlaCacheAndActiveParametersOfADeepSeekModel()
    {
        var result = SuironProcess.Run("info", Suiron.Tests.Models.MoeModelBuilder.F32(Suiron.Tests.Models.MoeModelBuilder.DeepSeekV3));
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains("architecture:   deepseek2", result.StdOut);
        // By hand: 4 layers × (kv_lora_rank 64 + rope 32) × 2 bytes = 768 bytes per token, where full per-head K/V would
        // take 4 layers × 4 heads × ((32 nope + 32 rope) key + 32 value) × 2 bytes = 3,072.
        Assert.Contains("kv cache:       768 bytes per token", result.StdOut);
        Assert.Contains("uncompressed K/V would take 3,072 bytes per token (4.0× more)", result.StdOut);
        var active = System.Text.RegularExpressions.Regex.Match(result.StdOut, @"active/token:\s+([\d,]+)");
        var total = System.Text.RegularExpressions.Regex.Match(result.StdOut, @"parameters:\s+([\d,]+)");
        Assert.True(active.Success && total.Success, result.StdOut);
        Assert.True(long.Parse(active.Groups[1].Value.Replace(",", "")) < long.Parse(total.Groups[1].Value.Replace(",", "")));
    }

    [Fact]
    public void MissingModelFileExitsOneWithAClearMessage()
    {
        var result = SuironProcess.Run("run", "--model", "/nonexistent/model.gguf", "--prompt", "x");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not found", result.StdErr);
        Assert.DoesNotContain("   at ", result.StdErr); // no stack trace
    }

    [Fact]
    public void TruncatedModelExitsOneNamingTheProblem()
    {
        byte[] full = File.ReadAllBytes(Stories);
        string path = Path.Combine(_dir, "truncated.gguf");
        File.WriteAllBytes(path, full.AsSpan(0, full.Length - 1000).ToArray());
        foreach (string[] args in new[] { new[] { "run", "--model", path, "--prompt", "x" }, new[] { "info", path }, new[] { "tokenize", "--model", path, "--text", "x" } })
        {
            var result = SuironProcess.Run(args);
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("invalid model file", result.StdErr);
            Assert.Contains("extends past the end of the file", result.StdErr);
            Assert.DoesNotContain("   at ", result.StdErr);
        }
    }

    [Theory]
    [InlineData("llama.block_count", 2147483647L)]
    [InlineData("llama.embedding_length", 2147483648L)]
    public void HostileHyperParameterExitsOneNamingTheKey(string key, long value)
    {
        // The issue's two cases: once an OutOfMemoryException and an OverflowException printed as "Unhandled exception".
        using var source = Suiron.Gguf.GgufFile.Open(Stories);
        var image = Gguf.GgufImage.Read(Stories);
        int at = image.Metadata.FindIndex(p => p.Key == key);
        image.Metadata[at] = KeyValuePair.Create(key, new Suiron.Gguf.GgufValue(Suiron.Gguf.GgufValueType.UInt32, (uint)value));
        string path = Path.Combine(_dir, "hostile.gguf");
        image.WriteTo(path);
        foreach (string[] args in new[] { new[] { "run", "--model", path, "--prompt", "x" }, new[] { "info", path }, new[] { "serve", "--model", path, "--port", "0" } })
        {
            var result = SuironProcess.Run(args);
            Assert.True(result.ExitCode == 1, $"{args[0]}: exit {result.ExitCode}: {result.StdErr}");
            Assert.StartsWith("error: invalid model file: ", result.StdErr);
            Assert.Contains(key, result.StdErr);
            Assert.DoesNotContain("   at ", result.StdErr);
            Assert.DoesNotContain("Unhandled", result.StdErr);
        }
    }

    [Fact]
    public void ServeRefusesAChatTemplateFileThatIsMissingOrDoesNotParse()
    {
        string broken = Path.Combine(_dir, "broken.jinja");
        File.WriteAllText(broken, "{% for message in messages %}{{ message['content'] }");
        foreach (var (file, expected) in new[] { (broken, "--chat-template-file: "), (Path.Combine(_dir, "absent.jinja"), "does not exist") })
        {
            var result = SuironProcess.Run("serve", "--model", Stories, "--port", "0", "--chat-template-file", file);
            Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.StdErr}");
            Assert.StartsWith("error: --chat-template-file: ", result.StdErr);
            Assert.Contains(expected, result.StdErr);
            Assert.DoesNotContain("   at ", result.StdErr);
        }
    }

    [Theory]
    [InlineData("run", "--model", "M", "--prompt", "x", "-n", "abc")]
    [InlineData("run", "--model", "M", "--prompt", "x", "--threads", "0")]
    [InlineData("run", "--model", "M", "--prompt", "x", "--top-p", "0")]
    [InlineData("run", "--model", "M")]
    [InlineData("run", "--model", "M", "--prompt", "x", "--ctx-size", "3")]
    [InlineData("tokenize", "--model", "M")]
    [InlineData("frobnicate")]
    public void BadArgumentsExitTwo(params string[] args)
    {
        var result = SuironProcess.Run(args.Select(a => a == "M" ? Stories : a).ToArray());
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.StdErr);
        Assert.DoesNotContain("   at ", result.StdErr);
    }

    [Fact]
    public void EveryHelpPageNamesTheCommandSuiron()
    {
        var root = SuironProcess.Run("--help");
        Assert.Equal(0, root.ExitCode);
        Assert.Contains("Usage:\n  suiron [command] [options]", root.StdOut.ReplaceLineEndings("\n"));
        foreach (string command in new[] { "run", "chat", "serve", "info", "tokenize", "pull" })
        {
            var help = SuironProcess.Run(command, "--help");
            Assert.Contains($"  suiron {command} ", help.StdOut);
            Assert.DoesNotContain("Suiron.Cli", help.StdOut);
        }
    }

    [Fact]
    public void InfoTakesTheModelPositionallyOrByDashM()
    {
        var positional = SuironProcess.Run("info", Stories);
        var named = SuironProcess.Run("info", "-m", Stories);
        Assert.Equal(0, named.ExitCode);
        Assert.Equal(positional.StdOut, named.StdOut);
        // The hyper-parameters as the GGUF declares them (llama.embedding_length 64, block_count 5, head_count 8, head_count_kv 4).
        Assert.Matches(@"hyper-parameters:\n  Architecture +llama\n  ContextLength +2048\n  EmbeddingLength +64\n  LayerCount +5\n", named.StdOut);
        Assert.Matches(@"  HeadCount +8\n  KvHeadCount +4\n", named.StdOut);
        foreach (string[] args in new[] { new[] { "info" }, new[] { "info", Stories, "-m", Stories } })
        {
            var bad = SuironProcess.Run(args);
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("suiron info -m FILE", bad.StdErr);
        }
    }

    [Theory]
    [InlineData("-n", "abc", "--n-predict: 'abc' is not a whole number.")]
    [InlineData("--temp", "warm", "--temp: 'warm' is not a number such as 0.7.")]
    [InlineData("--seed", "-3", "--seed: '-3' is not a whole number ≥ 0.")]
    public void ABadNumberSaysWhatWasExpectedAndPointsAtTheSubcommandsHelp(string option, string value, string expected)
    {
        var result = SuironProcess.Run("run", "--model", Stories, "--prompt", "x", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: {expected}\nRun 'suiron run --help' for usage.\n", result.StdErr.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void AnUnknownCommandIsOneError()
    {
        var result = SuironProcess.Run("frobnicate");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: Unrecognized command or argument 'frobnicate'.\nRun 'suiron --help' for usage.\n", result.StdErr.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void NegativeTemperatureIsRefused()
    {
        var result = SuironProcess.Run("run", "--model", Stories, "--prompt", "x", "--temp", "-1");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --temp must be ≥ 0, 0 for greedy (got -1).\nRun 'suiron run --help' for usage.\n", result.StdErr.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void RunSaysWhenTheContextRatherThanNEndedTheText()
    {
        // The greedy story outlasts 32 tokens of context; with -n 8 the -n limit binds and nothing is said.
        var full = SuironProcess.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "500", "-c", "32", "--temp", "0", "-t", "2");
        Assert.True(full.ExitCode == 0, full.StdErr);
        int prompt = TokenizerOracle.For(Stories).Tokenize("Once upon a time", addSpecial: true, parseSpecial: true).Length;
        Assert.Contains($"note: stopped after {32 - prompt} of 500 tokens: the context of 32 tokens is full (raise --ctx-size).", full.StdErr);
        var limited = SuironProcess.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "8", "--temp", "0", "-t", "2");
        Assert.DoesNotContain("note:", limited.StdErr);
    }

    [Fact]
    public void ServeOnABusyPortIsOneCleanLine()
    {
        using var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        int port = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        var result = SuironProcess.Run("serve", "--model", Stories, "--port", port.ToString(), "--threads", "1");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.StdOut);
        Assert.DoesNotContain("   at ", result.StdErr);
        Assert.DoesNotContain("fail:", result.StdErr);
        Assert.Contains($"error: cannot listen on 127.0.0.1:{port}: ", result.StdErr);
        Assert.Single(result.StdErr.Split('\n'), line => line.StartsWith("error:"));
    }

    [Fact]
    public void ServeRefusesAnUnknownLogFormat()
    {
        var result = SuironProcess.Run("serve", "--model", Stories, "--port", "0", "--log-format", "xml");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("suiron serve --help", result.StdErr);
    }

    /// <summary>
    /// The console of <c>suiron serve</c>: by default the banner (naming the web chat at /) and nothing from ASP.NET Core;
    /// with --verbose --log-format json, one JSON object per line, the /health request among them.
    /// </summary>
    [Fact]
    public async Task ServeIsQuietByDefaultAndVerboseJsonLogsRequests()
    {
        string quiet = await ServeAndRequestHealth();
        Assert.Matches(@"suiron: web chat at http://127\.0\.0\.1:\d+/\n", quiet);
        Assert.DoesNotContain("info:", quiet);
        Assert.DoesNotContain("Microsoft.", quiet);

        string json = await ServeAndRequestHealth("--verbose", "--log-format", "json");
        var events = json.Split('\n').Where(l => l.StartsWith('{')).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.True(e.TryGetProperty("LogLevel", out _) && e.TryGetProperty("Category", out _) && e.TryGetProperty("Message", out _)));
        Assert.Contains(events, e => e.GetProperty("Category").GetString() == "Microsoft.AspNetCore.Hosting.Diagnostics"
                                     && e.GetProperty("Message").GetString()!.Contains("/health"));
    }

    /// <summary>Starts serve on a free port, asks /health once, stops it with SIGTERM and returns its stderr.</summary>
    private static async Task<string> ServeAndRequestHealth(params string[] extra)
    {
        using var server = await RunningServer.StartAsync(new[] { "--model", Stories, "--port", "0", "--threads", "1" }.Concat(extra).ToArray());
        using var http = new HttpClient { BaseAddress = server.Address };
        using (var ok = await http.GetAsync("/health")) Assert.True(ok.IsSuccessStatusCode);
        await server.StopAsync();
        return server.StdErr;
    }
}
