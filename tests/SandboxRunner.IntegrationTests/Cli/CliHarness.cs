using System.Text.Json;
using System.Text.Json.Nodes;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// The command line's tests share one engine fixture in their own collection: they run one after another
/// (each starts containers on a 2-core machine) and beside the MCP and library tests.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CliCollection : ICollectionFixture<DockerFixture>
{
    public const string Name = "cli";
}

/// <summary>
/// A fresh test repository with <c>.mcp-codex.json</c> (the fake Codex, <c>network_policy: none</c> unless
/// overridden) and a folder beside it for tasks files and reports, so the working tree stays clean. Disposing
/// it proves no container, network, task folder or git worktree of any run made there is left.
/// </summary>
public sealed class CliHarness : IAsyncDisposable
{
    /// <summary>Whether a test's own look already failed on what its runs left.</summary>
    private bool _leftReported;

    /// <summary>Every command this harness ran: what each printed goes with a failure on leftovers, and one killed at its disposal means the test failed before its end.</summary>
    private readonly List<CliProcess> _commands = [];

    private CliHarness(TestRepository repository, SandboxContainers containers, string folder)
    {
        Repository = repository;
        Containers = containers;
        Folder = folder;
    }

    public TestRepository Repository { get; }

    public SandboxContainers Containers { get; }

    /// <summary>Outside the repository: tasks files and reports.</summary>
    public string Folder { get; }

    /// <summary>Variables set (or, with null, removed) for every command this harness starts.</summary>
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    /// <param name="configOverrides">A JSON object merged into <see cref="McpServerProcess.BaseConfig"/> after <c>network_policy: none</c>.</param>
    public static CliHarness Create(DockerFixture docker, string? configOverrides = null)
    {
        var repository = new TestRepository();
        var config = new JsonObject { ["network_policy"] = "none" };
        foreach (var (name, value) in JsonNode.Parse(configOverrides ?? "{}")!.AsObject().ToList())
        {
            config[name] = value?.DeepClone();
        }

        McpServerProcess.WriteConfig(repository, config.ToJsonString());
        var folder = Path.Combine(Path.GetTempPath(), "sr-tests", "cli-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        return new CliHarness(repository, new SandboxContainers(docker), folder);
    }

    /// <summary>Writes a tasks file: the arguments of <c>run_codex_tasks</c> (see <see cref="McpServerProcess.Run"/>), serialised as they are.</summary>
    public string WriteTasks(object arguments, string name = "tasks.json")
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllText(path, JsonSerializer.Serialize(arguments));
        return path;
    }

    /// <summary>A task that writes <paramref name="path"/>, reports the command <c>echo wrote</c> (see <see cref="CliProcess.WaitForCommandAsync"/>) and then sleeps far past any test.</summary>
    public static Dictionary<string, object?> SleepingTask(string taskId, string path, string text)
    {
        var task = McpServerProcess.TaskArg(taskId, $"@write {path} {text}\\n", "@run 0 echo wrote", "@sleep 300");
        task["timeout_sec"] = 600;
        return task;
    }

    /// <summary>A file in <see cref="Folder"/>.</summary>
    public string FileIn(string name) => Path.Combine(Folder, name);

    /// <summary>Runs <c>sandbox-runner ARGS</c> in the repository, as a pipeline step does in its checkout.</summary>
    public async Task<CliResult> RunAsync(params string[] arguments)
    {
        await using var process = Start(arguments);
        return await process.WaitAsync(CliProcess.RunTimeout);
    }

    /// <summary>Starts <c>sandbox-runner ARGS</c> in the repository without waiting for it.</summary>
    public CliProcess Start(params string[] arguments)
    {
        var process = CliProcess.Start(Repository.Path, arguments, Environment);
        _commands.Add(process);
        return process;
    }

    /// <summary>A task's <c>result.json</c> in the run folder.</summary>
    public JsonElement Result(string runId, string taskId)
    {
        var path = Path.Combine(Repository.Path, RunStore.FolderName, runId, "tasks", taskId, "result.json");
        Assert.True(File.Exists(path), $"no result for {runId}/{taskId}");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return document.RootElement.Clone();
    }

    /// <summary>Waits until a task container of <paramref name="runId"/> is running.</summary>
    public async Task WaitForRunningTaskAsync(string runId)
    {
        Assert.True(
            await Poll.UntilAsync(async _ => (await Containers.RunningTasksOfRunsAsync([runId])).Count > 0, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(60), CancellationToken.None),
            "the task container never ran");
    }

    /// <summary>
    /// No container or network of any run of the repository (or of <paramref name="repoPath"/>, another clone a test
    /// ran in), no task folder, no registered worktree but the repository's own.
    /// </summary>
    public async Task AssertNothingLeftAsync(string? repoPath = null)
    {
        repoPath ??= Repository.Path;
        try
        {
            await Containers.AssertNoneLeftAsync(repoPath);
        }
        catch (Xunit.Sdk.XunitException e)
        {
            // Reported once, by the test that asked (disposing then only clears them away for the tests after it), with what
            // each command printed.
            _leftReported = true;
            Assert.Fail($"{e.Message}\n{string.Join("\n", _commands.Select(c => TailOf(c.Current().ToString())))}");
        }

        var trees = Path.Combine(repoPath, ".git", "sandbox-runner", "worktrees");
        var left = Directory.Exists(trees) ? Directory.EnumerateFileSystemEntries(trees).ToList() : [];
        Assert.True(left.Count == 0, $"task folders left behind: {string.Join(", ", left)}");
        var registered = TestRepository.RunGit(repoPath, null, "worktree", "list", "--porcelain").Split('\n').Count(l => l.StartsWith("worktree ", StringComparison.Ordinal));
        Assert.Equal(1, registered);
    }

    private static string TailOf(string text) => text.Length <= 16_000 ? text : "…" + text[^16_000..];

    public async ValueTask DisposeAsync()
    {
        try
        {
            // A failure here would replace the test's own: when the test already failed (it said so, or it never waited for
            // a command it started, which its disposal then killed mid-run), its leftovers are only cleared away.
            if (_leftReported || _commands.Any(c => c.KilledAtDisposal))
            {
                await Containers.RemoveOfRunsAsync(SandboxContainers.RunIdsOf(Repository.Path));
            }
            else
            {
                await AssertNothingLeftAsync();
            }
        }
        finally
        {
            Containers.Dispose();
            Repository.Dispose();
            Directory.Delete(Folder, recursive: true);
        }
    }
}
