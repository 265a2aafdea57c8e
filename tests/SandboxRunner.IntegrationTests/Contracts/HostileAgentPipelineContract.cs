using System.Text;
using System.Text.Json;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// The attacks of issue 9, each through the real engine with the fake Codex: a hostile or merely large
/// agent never hangs the runner, never costs a sibling task its result, and loses none of its own work
/// that fits the limits. Each run has a well-behaved sibling that must succeed. Run under runc by
/// <see cref="HostileAgentPipelineTests"/> and under gVisor by Gvisor/GvisorHostileAgentPipelineTests.
/// </summary>
public abstract class HostileAgentPipelineContract(IEngineUnderTest target)
{
    protected IEngineUnderTest Target { get; } = target;

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    private static TaskRequest Sibling => RunnerHarness.Task("sibling", "@write src/sibling.txt fine\\n", "@message sibling done");

    private static async Task<(TaskResult Hostile, TaskResult Sibling, RunResult Run)> RunWithSiblingAsync(RunnerHarness h, TaskRequest hostile)
    {
        using var bound = new CancellationTokenSource(Bound);
        var run = await h.RunAsync(new RunRequest { Tasks = [hostile, Sibling] }, bound.Token).WaitAsync(Bound);
        var sibling = run.Results.Single(r => r.TaskId == "sibling");
        Assert.True(sibling.Status == TaskStatus.Success, $"sibling: {sibling.Status}: {sibling.NotesForManager}");
        Assert.Equal(["src/sibling.txt"], sibling.FilesChanged);
        return (run.Results.Single(r => r.TaskId != "sibling"), sibling, run);
    }

    [Fact]
    public async Task A_final_message_of_ten_thousand_characters_is_the_summary()
    {
        await using var h = await Target.HarnessAsync();
        var message = string.Concat(Enumerable.Repeat("0123456789", 1000));

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("long", "@write src/a.txt a\\n", $"@message {message}"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(message, result.Summary);
        Assert.NotNull(result.Branch);
    }

    [Fact]
    public async Task A_fifo_named_gitignore_is_removed_and_reported_and_the_rest_is_kept()
    {
        await using var h = await Target.HarnessAsync();

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("fifo", "@write src/kept.txt kept\\n", "@run 0 mkfifo src/.gitignore"));

        if (Target.Runtime == GvisorEngine.Name)
        {
            // gVisor keeps a named pipe in its own memory: none reaches this machine's copy of the tree.
            Assert.Equal(TaskStatus.Success, result.Status);
            Assert.Empty(result.Violations);
        }
        else
        {
            Assert.Equal(TaskStatus.Failed, result.Status);
            Assert.Contains(result.Violations, v => v.Kind == ViolationKind.SpecialFile && v.Path == "src/.gitignore");
        }

        Assert.Equal(["src/kept.txt"], result.FilesChanged);
        Assert.Equal("kept\n", h.Repository.Git("show", $"{result.Branch}:src/kept.txt"));
    }

    [Fact]
    public async Task A_mebibyte_of_nested_substitutions_is_unjudgeable_and_costs_the_runner_nothing()
    {
        await using var h = await Target.HarnessAsync(c => c with { AllowedCommands = ["npm test"] });
        var command = "/bin/bash -lc " + string.Concat(Enumerable.Repeat("$(", 512 * 1024));
        var forged = JsonSerializer.Serialize(new { type = "item.completed", item = new { id = "x", type = "command_execution", command, aggregated_output = "", exit_code = 0, status = "completed" } });

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("nested", $"@garbage {forged.Replace("\\", "\\\\", StringComparison.Ordinal)}"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        var violation = Assert.Single(result.Violations, v => v.Kind == ViolationKind.Unjudgeable);
        Assert.True(violation.Command!.Length < 8 * 1024, "the reply quotes only the start of the command");
        Assert.True(JsonSerializer.SerializeToUtf8Bytes(result).Length < 1024 * 1024, "the result stays small");
    }

    [Fact]
    public async Task A_flood_of_error_events_is_kept_as_samples_and_a_count()
    {
        await using var h = await Target.HarnessAsync();
        var flood = "for i in $(seq 1 50000); do echo '{\"type\":\"error\",\"message\":\"flood '$i'\"}'; done > /proc/1/fd/1";

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("flood", "@write src/a.txt a\\n", $"@run 0 {flood}"));

        // Lines the flood glued onto Codex's own are unjudgeable; the rest are counted, not kept.
        var counted = System.Text.RegularExpressions.Regex.Match(result.NotesForManager, @"codex reported (\d+) warning\(s\) in all");
        Assert.True(counted.Success && int.Parse(counted.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 49_000, result.NotesForManager[..Math.Min(2000, result.NotesForManager.Length)]);
        Assert.True(result.NotesForManager.Split('\n').Count(l => l.StartsWith("codex warning:", StringComparison.Ordinal)) <= 20);
        Assert.Equal(["src/a.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task A_process_flood_ends_at_the_pids_limit_and_keeps_what_the_task_wrote_before()
    {
        await using var h = await Target.HarnessAsync();
        var flood = "@run * perl -e 'for (1..2000) { my $p = fork; last unless defined $p; if (!$p) { close STDOUT; close STDERR; sleep 300; exit } } print \"forked\\n\"'";

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("flood", "@write src/early.txt before\\n", flood, "@message done"));

        // runc refuses the forks past the limit and the task goes on; gVisor's own threads count against the limit
        // too, and its sandbox ends when no thread is left for it: the task fails, judged, with its early work kept.
        Assert.Equal(Target.Runtime == GvisorEngine.Name ? TaskStatus.Failed : TaskStatus.Success, result.Status);
        Assert.Equal(["src/early.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task A_100_MB_file_is_kept_on_disk_and_on_the_branch_and_the_reply_stays_small()
    {
        await using var h = await Target.HarnessAsync();

        var (result, _, run) = await RunWithSiblingAsync(h, RunnerHarness.Task("big", "@run 0 head -c 100000000 /dev/urandom > src/big.bin"));

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.True(result.PatchTruncated);
        Assert.Equal("", result.Patch);
        Assert.True(result.PatchBytes > 100_000_000);
        Assert.Equal(result.PatchBytes, new FileInfo(result.PatchFile!).Length);
        Assert.Equal("100000000", h.Repository.Git("cat-file", "-s", $"{result.Branch}:src/big.bin").Trim());
        Assert.True(JsonSerializer.SerializeToUtf8Bytes(run).Length < 1024 * 1024, "the whole reply stays small");
        Assert.True(new FileInfo(Path.Combine(h.Store.TaskFolder(run.RunId, "big"), "result.json")).Length < 1024 * 1024);
    }

    [Fact]
    public async Task A_task_writing_6_GB_is_stopped_at_its_tree_limit_and_the_host_disk_is_spared()
    {
        await using var h = await Target.HarnessAsync(c => c with { TaskLimits = new TaskLimitOverrides { MaxTreeBytes = 256L * 1024 * 1024, MaxFileBytes = 64L * 1024 * 1024 } });
        var free = new DriveInfo(h.Repository.Path).AvailableFreeSpace;

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("huge",
            "@write src/note.txt note\\n", "@run 0 dd if=/dev/zero of=src/huge.bin bs=1M count=6000 status=none"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains("max_tree_bytes", StringComparison.Ordinal));
        Assert.Contains("max_tree_bytes", result.NotesForManager, StringComparison.Ordinal);
        Assert.Contains("src/note.txt", result.FilesChanged);
        Assert.DoesNotContain("src/huge.bin", result.FilesChanged);
        Assert.True(free - new DriveInfo(h.Repository.Path).AvailableFreeSpace < 512L * 1024 * 1024, "the harvest kept nothing of the 6 GB");
    }

    [Fact]
    public async Task A_log_flood_stops_the_task_at_its_log_limit()
    {
        await using var h = await Target.HarnessAsync(c => c with { TaskLimits = new TaskLimitOverrides { MaxLogBytes = 8L * 1024 * 1024 } });

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("noisy", "@write src/a.txt a\\n", "@run 0 yes 0123456789012345678901234567890123456789 > /proc/1/fd/2"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains("max_log_bytes", StringComparison.Ordinal));
        Assert.Equal(["src/a.txt"], result.FilesChanged);
        Assert.True(result.Logs.Stderr.Length <= 128 * 1024);
    }

    [Fact]
    public async Task A_tree_deeper_than_path_max_is_reported_removed_and_the_rest_kept()
    {
        await using var h = await Target.HarnessAsync();

        var (result, _, run) = await RunWithSiblingAsync(h, RunnerHarness.Task("deep",
            "@write src/a.txt a\\n", "@run 0 n=$(printf 'd%.0s' $(seq 1 200)); cd src && for i in $(seq 1 25); do mkdir $n && cd $n || exit 1; done; echo x > f"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        var deep = Assert.Single(result.Violations, v => v.Kind == ViolationKind.LimitExceeded);
        Assert.StartsWith("src/ddddd", deep.Path, StringComparison.Ordinal);
        Assert.Contains("not kept", deep.Rule, StringComparison.Ordinal);
        Assert.Equal(["src/a.txt"], result.FilesChanged);
        var record = await h.Store.ReadRunAsync(run.RunId, CancellationToken.None);
        Assert.Equal(result.Status, record!.Tasks.Single(t => t.TaskId == "deep").Status);
    }

    [Fact]
    public async Task A_task_that_prints_a_line_of_garbage_on_codex_stdout_is_unjudgeable()
    {
        await using var h = await Target.HarnessAsync();

        var (result, _, _) = await RunWithSiblingAsync(h, RunnerHarness.Task("junk", "@write src/a.txt a\\n", "@run 0 printf X > /proc/1/fd/1"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.Unjudgeable);
    }
}
