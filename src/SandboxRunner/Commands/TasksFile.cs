using System.Text.Json;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Commands;

/// <summary>
/// Reads a tasks file: the arguments of <c>run_codex_tasks</c> as a JSON object (or just its <c>tasks</c>
/// array). Walked by hand, like <c>.mcp-codex.json</c>, so every unknown field and wrong type is reported at
/// once with its path; the values' rules are then <see cref="RunPlanner"/>'s, the same the MCP tool applies.
/// </summary>
internal static class TasksFile
{
    public const long MaxBytes = 8 * 1024 * 1024;
    private static readonly string[] RunFields = ["tasks", "run_id", "base_ref", "concurrency", "resource_policy", "dry_run", "environment", "verify", "verify_timeout_sec", "verify_inputs"];
    private static readonly string[] TaskFields = ["task_id", "prompt", "allowed_paths", "allowed_commands", "timeout_sec", "environment", "verify", "verify_timeout_sec", "verify_inputs", "attempts"];

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
            var problems = new List<Problem>();
            RunRequest request;
            try
            {
                request = Read(document.RootElement, problems);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidInputException(source, "(file)", $"must hold only valid text ({e.Message})");
            }

            return problems.Count > 0 ? throw new InvalidInputException(source, problems) : request;
        }
    }

    private static RunRequest Read(JsonElement root, List<Problem> problems)
    {
        if (root.ValueKind == JsonValueKind.Array)
        {
            return new RunRequest { Tasks = Tasks(root, problems) };
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new Problem("(file)", "must be a JSON object with \"tasks\" (the arguments of run_codex_tasks), or an array of tasks"));
            return new RunRequest();
        }

        var request = new RunRequest();
        foreach (var property in root.EnumerateObject())
        {
            var v = property.Value;
            request = property.Name switch
            {
                "tasks" => request with { Tasks = v.ValueKind == JsonValueKind.Array ? Tasks(v, problems) : Wrong<IReadOnlyList<TaskRequest>>("tasks", "must be an array of tasks", problems) },
                "run_id" => request with { RunId = String(v, "run_id", problems) },
                "base_ref" => request with { BaseRef = String(v, "base_ref", problems) },
                "resource_policy" => request with { ResourcePolicy = String(v, "resource_policy", problems) },
                "environment" => request with { Environment = String(v, "environment", problems) },
                "concurrency" => request with { Concurrency = Integer(v, "concurrency", problems) },
                "verify" => request with { Verify = Strings(v, "verify", problems) },
                "verify_timeout_sec" => request with { VerifyTimeoutSec = Integer(v, "verify_timeout_sec", problems) },
                "verify_inputs" => request with { VerifyInputs = Strings(v, "verify_inputs", problems) },
                "dry_run" => request with { DryRun = v.ValueKind is JsonValueKind.True || (v.ValueKind is not JsonValueKind.False && Wrong<bool>("dry_run", "must be true or false", problems)) },
                _ => Unknown(request, property.Name, RunFields, problems),
            };
        }

        return request;
    }

    private static List<TaskRequest> Tasks(JsonElement array, List<Problem> problems)
    {
        var tasks = new List<TaskRequest>();
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var at = $"tasks[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                problems.Add(new Problem(at, "must be an object with task_id and prompt"));
                continue;
            }

            var task = new TaskRequest();
            foreach (var property in item.EnumerateObject())
            {
                var field = $"{at}.{property.Name}";
                var v = property.Value;
                task = property.Name switch
                {
                    "task_id" => task with { TaskId = String(v, field, problems) },
                    "prompt" => task with { Prompt = String(v, field, problems) },
                    "allowed_paths" => task with { AllowedPaths = Strings(v, field, problems) },
                    "allowed_commands" => task with { AllowedCommands = Strings(v, field, problems) },
                    "timeout_sec" => task with { TimeoutSec = Integer(v, field, problems) },
                    "environment" => task with { Environment = String(v, field, problems) },
                    "verify" => task with { Verify = Strings(v, field, problems) },
                    "verify_timeout_sec" => task with { VerifyTimeoutSec = Integer(v, field, problems) },
                    "verify_inputs" => task with { VerifyInputs = Strings(v, field, problems) },
                    "attempts" => task with { Attempts = Integer(v, field, problems) },
                    _ => Unknown(task, field, TaskFields, problems),
                };
            }

            tasks.Add(task);
        }

        return tasks;
    }

    private static string? String(JsonElement v, string field, List<Problem> problems) =>
        v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null => null,
            _ => Wrong<string>(field, "must be a string", problems),
        };

    private static int? Integer(JsonElement v, string field, List<Problem> problems) =>
        v.ValueKind switch
        {
            JsonValueKind.Number when v.TryGetInt32(out var n) => n,
            JsonValueKind.Null => null,
            _ => Wrong<int?>(field, "must be a whole number", problems),
        };

    private static List<string>? Strings(JsonElement v, string field, List<Problem> problems)
    {
        if (v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Array)
        {
            return Wrong<List<string>>(field, "must be an array of strings", problems);
        }

        var list = new List<string>();
        var i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                list.Add(item.GetString()!);
            }
            else
            {
                problems.Add(new Problem($"{field}[{i}]", "must be a string"));
            }

            i++;
        }

        return list;
    }

    private static T Unknown<T>(T value, string field, string[] known, List<Problem> problems)
    {
        var name = field[(field.LastIndexOf('.') + 1)..];
        var near = known.FirstOrDefault(k => Near(k, name));
        problems.Add(new Problem(field, $"is not a known field{(near is null ? "" : $" (did you mean \"{near}\"?)")}; the fields are {string.Join(", ", known)}"));
        return value;
    }

    private static T Wrong<T>(string field, string rule, List<Problem> problems)
    {
        problems.Add(new Problem(field, rule));
        return default!;
    }

    /// <summary>A typo: one edit apart, or the same letters in another case.</summary>
    private static bool Near(string known, string given)
    {
        if (string.Equals(known, given, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (Math.Abs(known.Length - given.Length) > 1 || given.Length > 64)
        {
            return false;
        }

        var previous = Enumerable.Range(0, given.Length + 1).ToArray();
        for (var i = 1; i <= known.Length; i++)
        {
            var current = new int[given.Length + 1];
            current[0] = i;
            for (var j = 1; j <= given.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (known[i - 1] == given[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[given.Length] <= 1;
    }
}
