using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;
using ModelOracle = Suiron.Tests.Models.LlamaCppOracle;
using TokenizerOracle = Suiron.Tests.Tokenization.LlamaCppOracle;

namespace Suiron.Tests.Library;

/// <summary>Console output is redirected while a README example runs, so nothing else may run beside these tests.</summary>
[CollectionDefinition(nameof(ReadmeExamplesCollection), DisableParallelization = true)]
public sealed class ReadmeExamplesCollection;

/// <summary>
/// The README's C# examples compile as written (with the implicit usings of <c>dotnet new console</c>) and run on
/// stories260K: each is one of the samples/ programs word for word, compiled here by Roslyn against the engine
/// and run in process. The generation example's text must be llama.cpp's greedy continuation.
/// </summary>
[Collection(nameof(ReadmeExamplesCollection))]
public sealed class ReadmeExamplesTests
{
    private static readonly string RepositoryRoot = FindRepositoryRoot();

    private static string Stories => SharedData.Path("models", "stories260K.gguf");

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Suiron.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("Suiron.slnx not found above the test binaries.");
    }

    /// <summary>The ```csharp blocks of README.md, in order.</summary>
    private static List<string> ReadmeBlocks()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot, "README.md")).ReplaceLineEndings("\n");
        var blocks = new List<string>();
        for (int at = readme.IndexOf("```csharp\n", StringComparison.Ordinal); at >= 0; at = readme.IndexOf("```csharp\n", at, StringComparison.Ordinal))
        {
            int start = at + "```csharp\n".Length;
            int end = readme.IndexOf("\n```", start, StringComparison.Ordinal);
            blocks.Add(readme[start..end] + "\n");
            at = end;
        }
        return blocks;
    }

    private static string ReadmeBlockOf(string sample)
    {
        string program = File.ReadAllText(Path.Combine(RepositoryRoot, "samples", sample, "Program.cs")).ReplaceLineEndings("\n");
        Assert.Contains(program, ReadmeBlocks()); // the README shows the sample exactly as CI builds it
        return program;
    }

    [Fact]
    public void EveryReadmeBlockIsASampleThatTheSolutionBuilds()
    {
        var samples = Directory.GetDirectories(Path.Combine(RepositoryRoot, "samples"))
            .Select(d => File.ReadAllText(Path.Combine(d, "Program.cs")).ReplaceLineEndings("\n")).ToList();
        var blocks = ReadmeBlocks();
        Assert.True(blocks.Count >= 3, $"{blocks.Count} C# blocks in README.md");
        foreach (string block in blocks) Assert.Contains(block, samples);
        string solution = File.ReadAllText(Path.Combine(RepositoryRoot, "Suiron.slnx"));
        foreach (string dir in Directory.GetDirectories(Path.Combine(RepositoryRoot, "samples")))
            Assert.Contains($"samples/{Path.GetFileName(dir)}/{Path.GetFileName(dir)}.csproj", solution);
    }

    [Fact]
    public void GenerationExamplePrintsLlamaCppsGreedyContinuation()
    {
        var (stdout, _) = CompileAndRun(ReadmeBlockOf("Generation"), Stories);
        int[] continuation;
        using (var oracle = new ModelOracle(Stories))
            continuation = oracle.Greedy(oracle.Tokenize("Once upon a time"), 48).Continuation;
        var pieces = TokenizerOracle.For(Stories);
        int end = Array.FindIndex(continuation, pieces.IsEndOfGeneration);
        var bytes = new List<byte>();
        foreach (int id in end < 0 ? continuation : continuation[..end]) bytes.AddRange(pieces.TokenToPiece(id, special: false));
        Assert.Equal(Encoding.UTF8.GetString(bytes.ToArray()) + "\n", stdout);
    }

    [Fact]
    public void ChatExampleAnswersCallsTheToolWithValidArgumentsAndAnswersAgain()
    {
        var (stdout, stderr) = CompileAndRun(ReadmeBlockOf("ChatWithTools"), Stories);
        string[] lines = stdout.Split('\n');
        Assert.True(lines[0].StartsWith("answer: ", StringComparison.Ordinal), stdout + stderr);
        string call = Assert.Single(lines, l => l.StartsWith("call: ", StringComparison.Ordinal));
        Assert.StartsWith("call: get_weather(", call);
        // The arguments as the tool's schema (from its C# signature) asks: a string city, an integer days.
        using var arguments = JsonDocument.Parse(call["call: get_weather(".Length..^1]);
        Assert.Equal(JsonValueKind.String, arguments.RootElement.GetProperty("city").ValueKind);
        Assert.True(arguments.RootElement.GetProperty("days").TryGetInt32(out _), call);
        Assert.Single(lines, l => l.StartsWith("final: ", StringComparison.Ordinal));
    }

    [Fact]
    public void EmbeddingsExampleGivesVectorsOfTheModelsWidth()
    {
        var (stdout, _) = CompileAndRun(ReadmeBlockOf("Embeddings"), Stories);
        string[] lines = stdout.TrimEnd('\n').Split('\n');
        // stories260K's llama.embedding_length is 64.
        Assert.Equal("3 vectors of 64 dimensions", lines[0]);
        Assert.Equal(3, lines.Length);
        foreach (string line in lines[1..])
        {
            float cosine = float.Parse(line[(line.LastIndexOf('=') + 2)..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(cosine, -1.001f, 1.001f);
        }
    }

    /// <summary>Compiles a top-level-statement program as a console app of a new project would, runs it, and returns what it wrote.</summary>
    private static (string StdOut, string StdErr) CompileAndRun(string program, params string[] args)
    {
        string implicitUsings = string.Concat(new[] { "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks" }
            .Select(n => $"global using global::{n};\n"));
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .DistinctBy(Path.GetFileName)
            .Where(p => IsManaged(p))
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create($"ReadmeExample{Guid.NewGuid():N}",
            [CSharpSyntaxTree.ParseText(implicitUsings, parse), CSharpSyntaxTree.ParseText(program, parse)],
            references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: false));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        var problems = emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(emitted.Success && problems.Count == 0, string.Join("\n", problems));

        var assembly = Assembly.Load(image.ToArray());
        TextWriter originalOut = Console.Out, originalError = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            object? result = assembly.EntryPoint!.Invoke(null, [args]);
            if (result is Task task) task.GetAwaiter().GetResult();
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
        return (stdout.ToString().ReplaceLineEndings("\n"), stderr.ToString());
    }

    private static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
