using System.Text.Json;
using SandboxRunner.Configuration;
using SandboxRunner.Contract;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Commands;

/// <summary>
/// Reads a tasks file: the arguments of <c>run_codex_tasks</c> as a JSON object (or just its <c>tasks</c>
/// array), read by the same <see cref="ArgumentReader"/> and <see cref="RunRequest"/> as the MCP tool, so the
/// file takes exactly what the tool's schema says; the planner's rules (ids unique, base_ref a commit, ...) follow.
/// </summary>
internal static class TasksFile
{
    public const long MaxBytes = 8 * 1024 * 1024;

    public static async Task<RunRequest> ReadAsync(string path, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new InvalidInputException(path, "TASKS_FILE", "does not exist; pass the path of a JSON file holding the run's tasks");
        }

        if (info.Length > MaxBytes)
        {
            throw new InvalidInputException(path, "(file)", $"is {info.Length} bytes, over the {MaxBytes} a tasks file may have");
        }

        return Parse(await File.ReadAllBytesAsync(path, cancellationToken), path);
    }

    public static RunRequest Parse(ReadOnlyMemory<byte> json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidInputException(source, "(file)", $"must be valid JSON ({e.Message})");
        }

        using (document)
        {
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
