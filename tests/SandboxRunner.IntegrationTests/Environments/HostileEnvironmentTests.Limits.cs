using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>The environment path's limits: what a task writes is bounded while it runs and when it comes back.</summary>
public sealed partial class HostileEnvironmentTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task Bytes_past_the_tree_limit_outside_the_artefacts_fail_the_task_at_that_limit()
    {
        await using var h = await HarnessAsync(docker, limits: new TaskLimitOverrides { MaxTreeBytes = 64 * MiB, MaxFileBytes = 32 * MiB });

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("bytes",
            "@run 0 mkdir src/blobs && for i in 1 2 3 4; do head -c 30000000 /dev/zero > src/blobs/$i; done", "@message wrote"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains("max_tree_bytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Files_past_the_file_limit_outside_the_artefacts_end_the_task_over_its_limits_with_nothing_kept()
    {
        await using var h = await HarnessAsync(docker, limits: new TaskLimitOverrides { MaxFiles = 1000 });

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("files", "@run 0 mkdir src/many && cd src/many && seq 1 2000 | xargs touch", "@message made"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Path == "(tree)" && v.Rule.Contains("max_files", StringComparison.Ordinal));
        Assert.Null(result.Branch);
    }

    [Fact]
    public async Task Thousands_of_new_files_in_a_tracked_folder_come_back_within_the_harvest_budget()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("spread", "@run 0 cd src && seq -f 'gen-%g.txt' 1 3000 | xargs touch && echo edited >> app.txt", "@message made") with { TimeoutSec = 30 });

        Assert.True(result.Status == TaskStatus.Success, result.NotesForManager);
        Assert.Equal(3001, result.FilesChanged.Count + result.FilesChangedOmitted);
        Assert.True(result.DurationMs < 60_000, $"harvested in {result.DurationMs} ms");
    }

    [Fact]
    public async Task More_separate_top_level_paths_than_the_harvest_fetches_end_the_task_over_its_limits_at_once()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("roots", "@run 0 seq -f 'top-%g' 1 20001 | xargs touch", "@message made"));

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Path == "(tree)" && v.Rule.Contains("separate paths", StringComparison.Ordinal));
        Assert.True(result.DurationMs < 60_000, $"judged in {result.DurationMs} ms");
    }

    [Fact]
    public async Task More_changes_in_the_artefacts_than_the_engine_lists_end_the_task_over_its_limits_not_in_a_crash()
    {
        await using var h = await HarnessAsync(docker);

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("flood",
            "@run 0 cd deps && for i in $(seq 0 200); do mkdir d$i && (cd d$i && seq 1 1000 | xargs touch); done", "@message flooded") with { TimeoutSec = 180 });

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains($"more than {ChangedTree.MaxChanges} paths", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("deps/blob")]
    [InlineData("/home/sandbox/blob")]
    public async Task A_gigabyte_written_where_nothing_comes_back_is_stopped_at_the_tree_limit_while_the_task_runs(string path)
    {
        await using var h = await HarnessAsync(docker, limits: new TaskLimitOverrides { MaxTreeBytes = 64 * MiB });

        var result = await RunWithSiblingAsync(h, RunnerHarness.Task("fill",
            $"@run 0 for i in $(seq 1 100); do head -c 10000000 /dev/zero >> {path}; sleep 0.2; done", "@message filled") with { TimeoutSec = 120 });

        Assert.Equal(TaskStatus.Failed, result.Status);
        Assert.Contains(result.Violations, v => v.Kind == ViolationKind.LimitExceeded && v.Rule.Contains("own filesystem layer", StringComparison.Ordinal));
        Assert.True(result.DurationMs < 60_000, $"stopped after {result.DurationMs} ms");
    }
}
