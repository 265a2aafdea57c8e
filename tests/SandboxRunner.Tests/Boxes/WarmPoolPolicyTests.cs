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
    public void A_refill_spreads_the_boxes_wanted_evenly_over_the_nodes_counting_those_idle_or_being_made()
    {
        var policy = Policy();
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.Equal(["n2", "n3", "n1"], policy.PlanRefill("a", ["n1", "n2", "n3"], wanted: 4));
        Assert.Empty(policy.PlanRefill("a", ["n1", "n2", "n3"], wanted: 4));
        Assert.Equal(["n1"], policy.PlanRefill("b", ["n1"], wanted: 1));
    }

    [Fact]
    public void A_refill_never_takes_the_pool_past_its_bound_counting_boxes_being_made()
    {
        var policy = Policy(max: 3);
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.Equal(["n2", "n3"], policy.PlanRefill("a", ["n1", "n2", "n3", "n4"], wanted: 8));
        Assert.Empty(policy.PlanRefill("b", ["n1"], wanted: 1));
        Assert.Equal(3, policy.Count);
    }

    [Fact]
    public void The_pool_wants_one_box_more_of_a_shape_than_are_in_use_within_its_bound()
    {
        var policy = Policy(max: 3);
        Assert.Equal(1, policy.Wanted("a"));

        policy.Using("a");
        policy.Using("a");
        Assert.Equal(3, policy.Wanted("a"));
        policy.Using("a");
        Assert.Equal(3, policy.Wanted("a"));

        policy.Released("a");
        policy.Released("a");
        Assert.Equal(2, policy.Wanted("a"));
        Assert.Equal(1, policy.Wanted("b"));
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
        Assert.Equal(["n1"], policy.PlanRefill("a", ["n1"], wanted: 1));

        policy.Failed("a", "n1");

        Assert.Equal(["n1"], policy.PlanRefill("a", ["n1"], wanted: 1));
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

    [Fact]
    public async Task A_task_claims_a_box_being_made_on_a_free_node_and_gets_it_when_made_instead_of_the_pool()
    {
        var policy = Policy();
        policy.PlanRefill("a", ["n1"], wanted: 1);

        var claim = policy.Claim("a", new HashSet<string> { "n1" });
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.Equal("n1", claim?.NodeId);
        Assert.Equal("s1", (await claim!.Box)?.ServiceId);
        Assert.Empty(policy.Idle);
    }

    [Fact]
    public void A_box_being_made_is_claimed_once_only_for_its_shape_and_only_on_a_free_node()
    {
        var policy = Policy();
        policy.PlanRefill("a", ["n1"], wanted: 1);

        Assert.Null(policy.Claim("b", new HashSet<string> { "n1" }));
        Assert.Null(policy.Claim("a", new HashSet<string> { "n2" }));
        Assert.NotNull(policy.Claim("a", new HashSet<string> { "n1" }));
        Assert.Null(policy.Claim("a", new HashSet<string> { "n1" }));
    }

    [Fact]
    public async Task A_claim_on_a_box_that_could_not_be_made_gets_none()
    {
        var policy = Policy();
        policy.PlanRefill("a", ["n1"], wanted: 1);
        var claim = policy.Claim("a", new HashSet<string> { "n1" })!;

        policy.Failed("a", "n1");

        Assert.Null(await claim.Box);
    }

    [Fact]
    public void A_box_made_for_a_claim_given_up_before_it_was_made_goes_idle_for_the_next_task()
    {
        var policy = Policy();
        policy.PlanRefill("a", ["n1"], wanted: 1);
        var claim = policy.Claim("a", new HashSet<string> { "n1" })!;

        policy.Abandon(claim);
        policy.Warmed(Box("a", "n1", "s1"));

        Assert.False(claim.Box.IsCompleted);
        Assert.Equal("s1", policy.Take("a", new HashSet<string> { "n1" })?.ServiceId);
    }

    [Fact]
    public void A_box_handed_to_a_claim_given_up_after_it_was_made_goes_back_idle_rather_than_lost()
    {
        var policy = Policy();
        policy.PlanRefill("a", ["n1"], wanted: 1);
        var claim = policy.Claim("a", new HashSet<string> { "n1" })!;
        policy.Warmed(Box("a", "n1", "s1"));

        policy.Abandon(claim);

        Assert.Equal("s1", policy.Take("a", new HashSet<string> { "n1" })?.ServiceId);
    }

    [Fact]
    public async Task A_failure_drops_an_unclaimed_plan_first_so_a_claiming_task_waits_on_for_the_other_box_being_made_there()
    {
        var policy = Policy();
        policy.PlanRefill("a", ["n1"], wanted: 2);
        var claim = policy.Claim("a", new HashSet<string> { "n1" })!;

        policy.Failed("a", "n1");
        Assert.False(claim.Box.IsCompleted);
        policy.Warmed(Box("a", "n1", "s2"));

        Assert.Equal("s2", (await claim.Box)?.ServiceId);
    }

    [Fact]
    public void Only_the_last_of_a_burst_of_cold_creates_of_a_shape_says_none_is_under_way()
    {
        var policy = Policy();
        policy.ColdStarted("a");
        policy.ColdStarted("a");
        policy.ColdStarted("b");

        Assert.False(policy.ColdEnded("a"));
        Assert.True(policy.ColdEnded("b"));
        Assert.True(policy.ColdEnded("a"));
    }

    [Fact]
    public void A_shape_has_a_spare_while_a_box_of_it_is_idle_or_being_made_unclaimed()
    {
        var policy = Policy();
        Assert.False(policy.HasSpare("a"));

        policy.PlanRefill("a", ["n1"], wanted: 1);
        Assert.True(policy.HasSpare("a"));
        Assert.False(policy.HasSpare("b"));

        var claim = policy.Claim("a", new HashSet<string> { "n1" })!;
        Assert.False(policy.HasSpare("a"));

        policy.Abandon(claim);
        policy.Warmed(Box("a", "n1", "s1"));
        Assert.True(policy.HasSpare("a"));
    }
}
