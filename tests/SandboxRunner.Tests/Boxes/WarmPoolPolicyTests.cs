using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>Which warm boxes the swarm backend keeps: one per shape and free node, a bound in all, none idle too long, none given twice.</summary>
public sealed class WarmPoolPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 14, 0, 0, TimeSpan.Zero);

    private static WarmBox Box(string key, string node, string id, DateTimeOffset? warmed = null) =>
        new(key, id, node, "c-" + id, warmed ?? Now, new Docker.DotNet.Models.ServiceSpec(), 1);

    private static WarmPoolPolicy Policy(int max = 8) => new(max, TimeSpan.FromMinutes(2));

    [Fact]
    public void A_refill_plans_one_box_per_free_node_for_the_shape_and_none_where_one_is_idle_or_being_made()
    {
        var policy = Policy();
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.Equal(["n2", "n3"], policy.PlanRefill("a", ["n1", "n2", "n3"]));
        Assert.Empty(policy.PlanRefill("a", ["n1", "n2", "n3"]));
        Assert.Equal(["n1"], policy.PlanRefill("b", ["n1"]));
    }

    [Fact]
    public void A_refill_never_takes_the_pool_past_its_bound_counting_boxes_being_made()
    {
        var policy = Policy(max: 3);
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.Equal(["n2", "n3"], policy.PlanRefill("a", ["n1", "n2", "n3", "n4"]));
        Assert.Empty(policy.PlanRefill("b", ["n1"]));
        Assert.Equal(3, policy.Count);
    }

    [Fact]
    public void A_box_is_taken_only_for_its_shape_and_only_on_a_node_with_a_free_place()
    {
        var policy = Policy();
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.Null(policy.Take("b", new HashSet<string> { "n1" }));
        Assert.Null(policy.Take("a", new HashSet<string> { "n2" }));
        Assert.Equal("s1", policy.Take("a", new HashSet<string> { "n1", "n2" })?.ServiceId);
    }

    [Fact]
    public void A_box_taken_is_never_given_again()
    {
        var policy = Policy();
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.NotNull(policy.Take("a", new HashSet<string> { "n1" }));

        Assert.Null(policy.Take("a", new HashSet<string> { "n1" }));
        Assert.Empty(policy.Drain());
    }

    [Fact]
    public void A_failed_warm_up_frees_its_plan_so_the_next_refill_tries_that_node_again()
    {
        var policy = Policy();
        Assert.Equal(["n1"], policy.PlanRefill("a", ["n1"]));

        policy.Failed("a", "n1");

        Assert.Equal(["n1"], policy.PlanRefill("a", ["n1"]));
    }

    [Fact]
    public void Boxes_idle_past_the_idle_time_expire_and_younger_ones_stay()
    {
        var policy = Policy();
        policy.Warmed(Box("a", "n1", "old", Now - TimeSpan.FromMinutes(3)));
        policy.Warmed(Box("a", "n2", "young", Now - TimeSpan.FromMinutes(1)));

        Assert.Equal(["old"], policy.Expire(Now).Select(b => b.ServiceId));
        Assert.Equal(["young"], policy.Drain().Select(b => b.ServiceId));
    }
}
