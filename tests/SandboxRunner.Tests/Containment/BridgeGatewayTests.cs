using System.Net;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Containment;

/// <summary>Where the engine-exposure check probes: the host's address on the default bridge, named or not.</summary>
public sealed class BridgeGatewayTests
{
    private static readonly IPAddress[] Local = [IPAddress.Loopback, IPAddress.Parse("10.0.2.15"), IPAddress.Parse("172.17.0.1"), IPAddress.IPv6Loopback];

    [Fact]
    public void The_gateway_the_engine_names_is_taken_as_it_is() =>
        Assert.Equal("172.17.0.9", BridgeGateway.Pick("172.17.0.9", "172.17.0.0/16", Local));

    [Fact]
    public void An_engine_that_leaves_the_gateway_out_gets_this_machines_address_inside_the_subnet() =>
        Assert.Equal("172.17.0.1", BridgeGateway.Pick(null, "172.17.0.0/16", Local));

    [Fact]
    public void An_empty_gateway_counts_as_left_out() =>
        Assert.Equal("172.17.0.1", BridgeGateway.Pick("", "172.17.0.0/16", Local));

    [Fact]
    public void Without_an_address_of_its_own_in_the_subnet_the_subnets_first_address_is_taken() =>
        Assert.Equal("192.168.240.1", BridgeGateway.Pick(null, "192.168.240.0/20", Local));

    [Fact]
    public void No_ipv4_subnet_gives_no_address() =>
        Assert.Null(BridgeGateway.Pick(null, "fd00::/64", Local));

    [Fact]
    public void A_subnet_that_does_not_parse_gives_no_address() =>
        Assert.Null(BridgeGateway.Pick(null, "not-a-subnet", Local));
}
