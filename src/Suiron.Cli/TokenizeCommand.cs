using System.CommandLine;
using System.Text;
using Suiron.Gguf;
using Suiron.Tokenization;

namespace Suiron.Cli;

/// <summary><c>suiron tokenize</c>: print the tokens of a text, as llama.cpp's llama-tokenize does.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF model (or vocab-only) file", Required = true };
        var text = new Option<string>("--text", "-p", "--prompt") { Description = "Text to tokenize" };
        var file = new Option<FileInfo>("--file", "-f") { Description = "Read the text from this file (UTF-8)" };
        var ids = new Option<bool>("--ids") { Description = "Print only the ids, space-separated, on one line" };
        var bos = new Option<bool>("--bos") { Description = "Add BOS/EOS as the model asks" };
        var noSpecial = new Option<bool>("--no-parse-special") { Description = "Treat special-token text as plain text" };
        var command = new Command("tokenize", "Print the tokens of a text") { model, text, file, ids, bos, noSpecial };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            string? input = result.GetValue(text);
            FileInfo? inputFile = result.GetValue(file);
            if ((input is null) == (inputFile is null)) throw new UsageException("Give exactly one of --text or --file.");
            if (inputFile is not null)
            {
                if (!inputFile.Exists) throw new FileNotFoundException($"Input file not found: {inputFile.FullName}");
                input = File.ReadAllText(inputFile.FullName, Encoding.UTF8);
            }

            using var gguf = GgufFile.Open(result.GetValue(model)!.FullName);
            var tokenizer = Tokenizer.FromGguf(gguf);
            int[] tokens = tokenizer.Encode(input!, addSpecial: result.GetValue(bos), parseSpecial: !result.GetValue(noSpecial));
            using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            if (result.GetValue(ids))
            {
                stdout.WriteLine(string.Join(' ', tokens));
            }
            else
            {
                var strictUtf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
                foreach (int id in tokens)
                {
                    string piece;
                    // A piece that is part of a multi-byte character (byte fallback) is shown by its token text, e.g. <0xE6>.
                    try { piece = strictUtf8.GetString(tokenizer.TokenBytes(id, renderSpecial: true)); }
                    catch (DecoderFallbackException) { piece = tokenizer.Vocabulary.Tokens[id]; }
                    stdout.WriteLine($"{id,6} -> '{piece}'");
                }
            }
            return CliErrors.Ok;
        }));
        return command;
    }
}
