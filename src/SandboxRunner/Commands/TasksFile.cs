using System.Text.Json;
using SandboxRunner.Configuration;
using SandboxRunner.Contract;
using SandboxRunner.Platform;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Commands;

/// <summary>
/// Reads a tasks file: the arguments of <c>run_codex_tasks</c> as a JSON object (or just its <c>tasks</c>
/// array), read by the same <see cref="ArgumentReader"/> and <see cref="RunRequest"/> as the MCP tool, so the
/// file takes exactly what the tool's schema says; the planner's rules (ids unique, base_ref a commit, ...) follow.
/// A key given twice in one object is refused (JSON would keep the last silently).
/// </summary>
internal static class TasksFile
{
    /// <summary>A tasks file is a few kilobytes of prompts; far past that it is the wrong file.</summary>
    public const long MaxBytes = 4 * 1024 * 1024;
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 16 };

    public static async Task<RunRequest> ReadAsync(string path, CancellationToken cancellationToken) =>
        Parse(await ReadBoundedAsync(path, cancellationToken), path);

    /// <summary>
    /// The file's bytes, when it is a regular file of at most <see cref="MaxBytes"/>. Anything else is refused
    /// in one line before a byte is read: <c>/dev/zero</c> would be read until memory ran out and a FIFO would
    /// block forever. It is opened non-blocking too, so one swapped in after the check cannot hang the read.
    /// </summary>
    private static async Task<byte[]> ReadBoundedAsync(string path, CancellationToken cancellationToken)
    {
        var (type, size) = FileKind.Of(path, followLinks: true);
        var wrong = type switch
        {
            FileType.Missing => "does not exist; pass the path of a JSON file holding the run's tasks",
            FileType.Directory => "is a folder; pass the path of a JSON file holding the run's tasks",
            FileType.Regular when size > MaxBytes => $"is {size} bytes, over the {MaxBytes} (4 MiB) a tasks file may have",
            FileType.Regular => null,
            _ => $"is a {FileKind.Describe(type)}, not a regular file; pass the path of a JSON file holding the run's tasks",
        };
        if (wrong is not null)
        {
            throw new InvalidInputException(path, type == FileType.Missing ? "TASKS_FILE" : "(file)", wrong);
        }

        await using var stream = UntrustedFile.OpenRead(path, followLinks: true)
            ?? throw new InvalidInputException(path, "(file)", "cannot be opened for reading; check its permissions");
        var buffer = new byte[MaxBytes + 1];
        var read = 0;
        int chunk;
        while (read < buffer.Length && (chunk = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
        {
            read += chunk;
        }

        return read > MaxBytes
            ? throw new InvalidInputException(path, "(file)", $"holds more than the {MaxBytes} bytes (4 MiB) a tasks file may have")
            : buffer[..read];
    }

    public static RunRequest Parse(ReadOnlyMemory<byte> json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = ReaderOptions.CommentHandling, AllowTrailingCommas = ReaderOptions.AllowTrailingCommas, MaxDepth = ReaderOptions.MaxDepth });
        }
        catch (JsonException e)
        {
            throw new InvalidInputException(source, "(file)", $"must be valid JSON ({e.Message})");
        }

        using (document)
        {
            if (DuplicateKeys.Find(json.Span, ReaderOptions) is { Count: > 0 } repeated)
            {
                throw new InvalidInputException(source, repeated);
            }

            var root = document.RootElement;
            return root.ValueKind switch
            {
                JsonValueKind.Array => ArgumentReader.Read<RunRequest>(JsonSerializer.SerializeToElement(new Dictionary<string, JsonElement> { ["tasks"] = root }), source),
                JsonValueKind.Object => ArgumentReader.Read<RunRequest>(root, source),
                _ => throw new InvalidInputException(source, "(file)", "must be a JSON object with \"tasks\" (the arguments of run_codex_tasks), or an array of tasks"),
            };
        }
    }
}
