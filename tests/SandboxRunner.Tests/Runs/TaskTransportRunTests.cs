using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using static SandboxRunner.Tests.Runs.RunnerTestBed;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// The bind transport, which the fake engine takes (it sees this machine's files), as the task's container gets it;
/// the copy and environment transports are tested against real engines (CopyTransportTests, EnvironmentRunTests).
/// </summary>
public sealed class TaskTransportRunTests
{
    [Theory]
    [InlineData(SandboxMode.WorkspaceWrite, false)]
    [InlineData(SandboxMode.ReadOnly, true)]
    public async Task A_bound_task_mounts_its_checkout_the_host_objects_read_only_and_its_codex_home_and_nothing_else(SandboxMode mode, bool treeReadOnly)
    {
        using var bed = await CreateAsync();

        await bed.RunAsync(new RunRequest { Tasks = [Ask("t")], SandboxMode = mode }, CancellationToken.None);

        var spec = Assert.Single(bed.Engine.History).Spec;
        Assert.Equal(
            [(CodexCommandLine.Workspace, treeReadOnly), (bed.Host.ObjectsDir, true), (CodexCommandLine.Home, false)],
            spec.Mounts.Select(m => (m.Target, m.ReadOnly)));
        Assert.Equal(bed.Host.ObjectsDir, spec.Mounts[1].Source);
        Assert.Empty(spec.Volumes);
        Assert.True(spec.ReadOnlyRootFilesystem);
        bed.AssertNothingLeft();
    }
}
