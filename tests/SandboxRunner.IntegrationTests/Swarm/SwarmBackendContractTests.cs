using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>The backend contract on a real two-node swarm (<see cref="SwarmFixture"/>).</summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmBackendContractTests(SwarmFixture swarm) : BackendContract
{
    protected override ITaskBackend Backend => swarm.Backend;

    protected override string Image => DockerFixture.FakeCodexImage;

    protected override Task<string> ProxyImageAsync() => Task.FromResult(ImageRecipe.EgressProxy().Tag);

    /// <summary>A box on a swarm is a service: left straight through the manager's API, with no task to run.</summary>
    protected override async Task<string> LeaveBoxAsync(IReadOnlyDictionary<string, string> labels)
    {
        using var client = swarm.Manager.CreateClient();
        var created = await client.Swarm.CreateServiceAsync(new ServiceCreateParameters
        {
            Service = new ServiceSpec
            {
                Name = "sandbox-runner-left-" + Guid.NewGuid().ToString("N")[..12],
                Labels = new Dictionary<string, string>(labels),
                TaskTemplate = new TaskSpec { ContainerSpec = new ContainerSpec { Image = Image, Command = ["true"] } },
                Mode = new ServiceMode { Replicated = new ReplicatedService { Replicas = 0 } },
            },
        });
        return created.ID!;
    }

    protected override async Task<bool> HoldsAsync(string id)
    {
        using var client = swarm.Manager.CreateClient();
        try
        {
            await client.Swarm.InspectServiceAsync(id);
            return true;
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    protected override async Task RemoveLeftAsync(string id)
    {
        using var client = swarm.Manager.CreateClient();
        if (await HoldsAsync(id))
        {
            await client.Swarm.RemoveServiceAsync(id);
        }
    }
}
