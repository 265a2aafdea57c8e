using System.Net;
using System.Net.Sockets;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

public sealed class ModelRouteCheckTests
{
    [Fact]
    public async Task A_model_endpoint_that_accepts_a_connection_is_ok()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var config = RunnerConfig.Default with { ModelBaseUrl = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/v1" };

        var check = await ModelRouteCheck.ExamineAsync(config, credential: null, CancellationToken.None);

        Assert.Equal(Doctor.Ok, check!.Status);
    }

    [Fact]
    public async Task A_model_endpoint_out_of_reach_is_a_warning_with_the_fix()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var config = RunnerConfig.Default with { ModelBaseUrl = $"http://127.0.0.1:{port}/v1" };

        var check = await ModelRouteCheck.ExamineAsync(config, credential: null, CancellationToken.None);

        Assert.Equal(Doctor.Warn, check!.Status);
        Assert.Contains($"127.0.0.1:{port} is out of reach", check.Detail, StringComparison.Ordinal);
        Assert.Contains("model_base_url", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_network_means_no_model_route_to_check()
    {
        var config = RunnerConfig.Default with { NetworkPolicy = NetworkPolicy.None, ModelBaseUrl = "http://127.0.0.1:9/v1" };

        Assert.Null(await ModelRouteCheck.ExamineAsync(config, credential: null, CancellationToken.None));
    }
}
