using SandboxRunner.Configuration;
using SandboxRunner.Runs;
using static SandboxRunner.Tests.Runs.RunnerTestBed;

namespace SandboxRunner.Tests.Runs;

public sealed class BackendChoiceTests
{
    [Fact]
    public async Task A_config_that_names_the_swarm_is_refused_by_a_process_whose_backend_is_another_and_nothing_runs()
    {
        using var bed = await CreateAsync(config => config with { Backend = BackendKind.Swarm });

        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() =>
            bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t")] }, CancellationToken.None));

        Assert.Contains("backend: names swarm, but this process runs tasks on its 'fake' backend", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(bed.Engine.History);
    }
}
