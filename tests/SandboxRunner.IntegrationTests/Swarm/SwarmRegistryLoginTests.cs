using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Boxes;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// The test registry wants a login (as a team's should), and every other swarm test passes only because the runner
/// reads it where `docker login` keeps it and gives it to the manager, the nodes and each service. Without it the
/// runner says what is wrong and what to run.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmRegistryLoginTests(SwarmFixture swarm)
{
    [Fact]
    public async Task A_runner_with_no_login_for_a_registry_that_wants_one_is_told_to_log_in()
    {
        var empty = Directory.CreateTempSubdirectory("sr-no-login-").FullName;
        try
        {
            await using var backend = new SwarmBackend(NullLogger.Instance, swarm.Manager with { ConfigFolder = empty }, new SwarmOptions(swarm.Registry));

            // Another image than the fixture's, so no earlier push of this backend's process is remembered.
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ((SwarmImages)backend.Images).PublishAsync(ImageRecipe.EgressProxy().Tag, CancellationToken.None));

            Assert.True(e.Message.Contains($"the registry wants a login: run `docker login {swarm.Registry}`", StringComparison.Ordinal), e.Message);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
