using Suiron.Chat;
using Suiron.Gguf;
using Suiron.Models;
using Suiron.Tokenization;

namespace Suiron.Inference;

/// <summary>How to run a <see cref="LocalModel"/>: the model's own options, and how many sequences it serves at once.</summary>
public sealed record LocalModelOptions
{
    /// <summary>Threads, context per slot, cache types and rotation (<see cref="ModelOptions"/>).</summary>
    public ModelOptions Model { get; init; } = new();

    /// <summary>Sequences generated at once (continuous batching).</summary>
    public int Slots { get; init; } = 1;

    /// <summary>Requests that may wait for a slot before new ones are refused.</summary>
    public int QueueLimit { get; init; } = 64;

    /// <summary>See <see cref="SchedulerOptions.PrefillLatencyFactor"/>: how much a prompt being evaluated may slow the others' streams (0 = unpaced).</summary>
    public double PrefillLatencyFactor { get; init; } = 2.0;

    /// <summary>A Jinja chat template to use instead of the file's <c>tokenizer.chat_template</c> (llama-server's <c>--chat-template-file</c>); null keeps the file's.</summary>
    public string? ChatTemplate { get; init; }
}

/// <summary>
/// A GGUF model ready to serve: the file, its tokenizer, the model, its chat prompt and a <see cref="Scheduler"/>
/// that shares it between concurrent requests. What the server and <see cref="SuironChatClient"/> run on.
/// </summary>
public sealed class LocalModel : IDisposable
{
    private LocalModel(string id, GgufFile file, Tokenizer tokenizer, ILanguageModel model, ChatPrompt chat, Scheduler scheduler, DateTimeOffset created)
    {
        Id = id;
        File = file;
        Tokenizer = tokenizer;
        Model = model;
        Chat = chat;
        Scheduler = scheduler;
        Created = created;
    }

    /// <summary>
    /// Loads the model at <paramref name="path"/>; its id is the file name without <c>.gguf</c>. A missing file throws
    /// <see cref="FileNotFoundException"/>, a malformed one <see cref="GgufException"/>, a well-formed one that needs
    /// an unimplemented feature <see cref="NotSupportedException"/> (see <see cref="ModelLoader.Load"/>), a
    /// <see cref="LocalModelOptions.ChatTemplate"/> that does not parse <see cref="TemplateException"/>.
    /// </summary>
    public static LocalModel Load(string path, LocalModelOptions? options = null)
    {
        options ??= new LocalModelOptions();
        var file = GgufFile.Open(path);
        ILanguageModel? model = null;
        try
        {
            var tokenizer = Tokenizer.FromGguf(file);
            var chat = options.ChatTemplate is { } template ? new ChatPrompt(new ChatTemplate(template), tokenizer) : ChatPrompt.FromGguf(file, tokenizer);
            model = ModelLoader.Load(file, options.Model);
            var scheduler = new Scheduler(model, tokenizer, new SchedulerOptions { Slots = options.Slots, QueueLimit = options.QueueLimit, PrefillLatencyFactor = options.PrefillLatencyFactor, ContextSize = model.Info.ContextSize });
            string id = Path.GetFileName(path);
            if (id.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) id = id[..^5];
            return new LocalModel(id, file, tokenizer, model, chat, scheduler, new DateTimeOffset(System.IO.File.GetLastWriteTimeUtc(path)));
        }
        catch
        {
            model?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>The model's name in APIs: the file name without <c>.gguf</c>.</summary>
    public string Id { get; }
    public GgufFile File { get; }
    public Tokenizer Tokenizer { get; }
    public ILanguageModel Model { get; }
    public ChatPrompt Chat { get; }
    public Scheduler Scheduler { get; }
    /// <summary>When the model file was written (OpenAI's <c>created</c> of a model).</summary>
    public DateTimeOffset Created { get; }

    public void Dispose()
    {
        Scheduler.Dispose();
        Model.Dispose();
        File.Dispose();
    }
}
